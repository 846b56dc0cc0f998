import { ReducerRegistry, runReducers, type LOEvent } from '@learning-observer/reducers';
import {
  ActionSummaryModule,
  EXAMPLE_MODULES,
  InvalidModuleOptionError,
  MalformedCommandError,
  ToyCounterModule,
  UnknownExampleModuleError,
  WritingObserverModule,
  exampleModules,
} from '../../src/modules';

const WO = 'org.mitros.writing_analytics';

function wo(student: string | undefined, time: number, client: Record<string, unknown>): LOEvent {
  return {
    client: { source: WO, ...client },
    ...(student === undefined ? {} : { metadata: { auth: { safe_user_id: student } } }),
    server: { time },
  };
}

const save = (student: string, docId: string, time: number, commands: unknown[]): LOEvent =>
  wo(student, time, { event: 'google_docs_save', doc_id: docId, bundles: [{ commands }] });

describe('registration', () => {
  it('declares the original reducer ids, scopes and contexts', () => {
    const registry = new ReducerRegistry();
    registry.registerAll(exampleModules());
    const summary = registry.definitions().map((d) => [d.id, d.scope.keyNames.join('+'), d.contexts.join('|')]);
    expect(summary).toEqual([
      ['writing_observer.writing_analysis.time_on_task', 'EventField.doc_id+STUDENT', WO],
      ['writing_observer.writing_analysis.binned_time_on_task', 'EventField.doc_id+STUDENT', WO],
      ['writing_observer.writing_analysis.reconstruct', 'EventField.doc_id+STUDENT', WO],
      ['writing_observer.writing_analysis.event_count', 'EventField.doc_id+STUDENT', WO],
      ['writing_observer.writing_analysis.document_list', 'STUDENT', WO],
      ['writing_observer.writing_analysis.last_document', 'STUDENT', WO],
      ['writing_observer.writing_analysis.document_access_timestamps', 'STUDENT', WO],
      ['writing_observer.writing_analysis.document_tagging', 'STUDENT', WO],
      ['lo_toy_sba.reducers.student_event_counter', 'STUDENT', 'org.ets.sba'],
      ['lo_action_summary.reducers.student_event_history', 'STUDENT', `org.ets.da|org.ets.sba|${WO}`],
    ]);
    expect(registry.get('writing_observer.writing_analysis.time_on_task')!.defaultState).toEqual({ saved_ts: 0 });
    expect(registry.get('writing_observer.writing_analysis.reconstruct')!.defaultState).toEqual({ text: '' });
    expect(registry.get('lo_toy_sba.reducers.student_event_counter')!.defaultState).toEqual({ count: 0 });
  });

  it('every class registers with no arguments (defaults) and lists a description', () => {
    for (const cls of [WritingObserverModule, ToyCounterModule, ActionSummaryModule]) {
      expect(new ReducerRegistry().register(cls).length).toBeGreaterThan(0);
      expect(cls.description.length).toBeGreaterThan(20);
    }
    expect(EXAMPLE_MODULES.map((m) => m.name)).toEqual(['writing_observer', 'toy_counter', 'action_summary']);
  });

  it('exampleModules can select by name, passes options, and rejects unknown names', () => {
    const [only] = exampleModules({ actionSummary: { maxEvents: 7 } }, ['action_summary']);
    expect(only).toBeInstanceOf(ActionSummaryModule);
    expect((only as ActionSummaryModule).maxEvents).toBe(7);
    expect(() => exampleModules({}, ['nope'])).toThrow(UnknownExampleModuleError);
  });

  it('validates writing observer options', () => {
    expect(() => new WritingObserverModule({ timeOnTaskThreshold: 0 })).toThrow(InvalidModuleOptionError);
    expect(() => new WritingObserverModule({ binSize: 1.5 })).toThrow(InvalidModuleOptionError);
    expect(() => new WritingObserverModule({ outOfOrder: 'clamp' as never })).toThrow(/'ignore', 'subtract'/);
    expect(() => new WritingObserverModule({ maxDocumentIndex: 0 })).toThrow(InvalidModuleOptionError);
  });
});

describe('toy counter through the pipeline', () => {
  it("writes the original's key strings", async () => {
    const ev = (s: string): LOEvent => ({ client: { source: 'org.ets.sba', event: 'click' }, metadata: { auth: { safe_user_id: s } } });
    const run = await runReducers(ToyCounterModule, [ev('s1'), ev('s1'), ev('s2'), { client: { source: WO, event: 'x' }, metadata: { auth: { safe_user_id: 's1' } } }]);
    expect(run.errors).toEqual([]);
    expect(await run.dump()).toEqual({
      'External,lo_toy_sba.reducers.student_event_counter,STUDENT:s1': { count: 2 },
      'External,lo_toy_sba.reducers.student_event_counter,STUDENT:s2': { count: 1 },
      'Internal,lo_toy_sba.reducers.student_event_counter,STUDENT:s1': { count: 2 },
      'Internal,lo_toy_sba.reducers.student_event_counter,STUDENT:s2': { count: 1 },
    });
  });
});

describe('action summary through the pipeline', () => {
  it('keeps the stripped latest events per student', async () => {
    const events = [1, 2, 3].map((i) => wo('s1', i, { event: 'keystroke', doc_id: 'D', key: String(i), metadata: { ts: i }, version: 'v', auth: {} }));
    const run = await runReducers(new ActionSummaryModule({ maxEvents: 2 }), events);
    expect(await run.external('student_event_history', { STUDENT: 's1' })).toEqual({
      events: [
        { event: 'keystroke', doc_id: 'D', key: '2' },
        { event: 'keystroke', doc_id: 'D', key: '3' },
      ],
    });
  });
});

describe('writing observer through the pipeline', () => {
  it('time on task: reference vector under both policies, and the original key strings', async () => {
    const events = [1000, 1010, 1100, 1105.5, 1090].map((t) => wo('gc-123', t, { event: 'keystroke', doc_id: 'D' }));
    const original = await runReducers(new WritingObserverModule({ outOfOrder: 'subtract' }), events, { reducers: ['writing_observer.writing_analysis.time_on_task'], concurrency: 1 });
    const dump = await original.dump();
    expect(dump).toEqual({
      'External,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D,STUDENT:gc-123': { saved_ts: 1090, total_time_on_task: 60 },
      'Internal,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D,STUDENT:gc-123': { saved_ts: 1090, total_time_on_task: 60 },
    });
    const ours = await runReducers(WritingObserverModule, events, { reducers: ['writing_observer.writing_analysis.time_on_task'] });
    expect(await ours.external('time_on_task', { STUDENT: 'gc-123', 'EventField.doc_id': 'D' })).toEqual({ saved_ts: 1105.5, total_time_on_task: 75.5 });
  });

  it("events without auth go to the original's [guest] student", async () => {
    const run = await runReducers(WritingObserverModule, [wo(undefined, 5, { event: 'keystroke', doc_id: 'D' })], { reducers: ['writing_observer.writing_analysis.event_count'] });
    expect(Object.keys(await run.dump())).toContain('External,writing_observer.writing_analysis.event_count,EventField.doc_id:D,STUDENT:[guest]');
  });

  it('binned time on task: reference vector', async () => {
    const events = [1699999790, 1699999795, 1699999830, 1700000500, 1700000520].map((t) => wo('s1', t, { event: 'keystroke', doc_id: 'D' }));
    const run = await runReducers(WritingObserverModule, events);
    expect(await run.external('binned_time_on_task', { STUDENT: 's1', 'EventField.doc_id': 'D' })).toEqual({
      saved_ts: 1700000520,
      binned_time_on_task: { '1699999200': 10, '1699999800': 90, '1700000400': 20 },
      current_bin: 1700000400,
    });
    expect(await run.external('event_count', { STUDENT: 's1', 'EventField.doc_id': 'D' })).toEqual({ count: 5 });
  });

  it("reconstruct: the original's key for a student and document", async () => {
    const run = await runReducers(WritingObserverModule, [save('tc-testcase-bob', '1AbC', 1, [{ ty: 'is', ibi: 1, s: 'Hello' }])], {
      reducers: ['writing_observer.writing_analysis.reconstruct'],
    });
    expect(await run.dump()).toEqual({
      'External,writing_observer.writing_analysis.reconstruct,EventField.doc_id:1AbC,STUDENT:tc-testcase-bob': { text: 'Hello', position: 6, edit_metadata: { cursor: [6], length: [5] } },
      'Internal,writing_observer.writing_analysis.reconstruct,EventField.doc_id:1AbC,STUDENT:tc-testcase-bob': { text: 'Hello', position: 6, edit_metadata: { cursor: [6], length: [5] } },
    });
  });

  it('a malformed command fails that event only: nothing written for it, other keys and later events proceed', async () => {
    const warned: string[] = [];
    const module = new WritingObserverModule({ onUnknownCommand: (t) => warned.push(t) });
    const events = [
      save('s1', 'D', 1, [{ ty: 'is', ibi: 1, s: 'Hello' }]),
      save('s1', 'D', 2, [{ ty: 'is', ibi: 6, s: ' there' }, { ty: 'ds', si: 'oops', ei: 3 }]),
      save('s2', 'E', 2, [{ ty: 'is', ibi: 1, s: 'Other' }, { ty: 'qq' }]),
      save('s1', 'D', 3, [{ ty: 'is', ibi: 6, s: '!' }]),
    ];
    const run = await runReducers(module, events, { concurrency: 1 });
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0].reducerId).toBe('writing_observer.writing_analysis.reconstruct');
    expect(run.errors[0].internalKey).toBe('Internal,writing_observer.writing_analysis.reconstruct,EventField.doc_id:D,STUDENT:s1');
    expect(run.errors[0].cause).toBeInstanceOf(MalformedCommandError);
    expect(await run.external('reconstruct', { STUDENT: 's1', 'EventField.doc_id': 'D' })).toEqual({
      text: 'Hello!',
      position: 7,
      edit_metadata: { cursor: [6, 7], length: [5, 6] },
    });
    expect(await run.internal('reconstruct', { STUDENT: 's1', 'EventField.doc_id': 'D' })).toEqual(
      await run.external('reconstruct', { STUDENT: 's1', 'EventField.doc_id': 'D' }),
    );
    expect(((await run.external('reconstruct', { STUDENT: 's2', 'EventField.doc_id': 'E' })) as { text: string }).text).toBe('Other');
    expect(warned).toEqual(['qq']);
    // The failed event still counted for the other reducers of the same key.
    expect(await run.external('event_count', { STUDENT: 's1', 'EventField.doc_id': 'D' })).toEqual({ count: 3 });
  });

  it('student-level document reducers', async () => {
    const url = (id: string) => `https://docs.google.com/document/d/${id}/edit`;
    const events = [
      wo('s1', 10, { event: 'document_history', doc_id: 'D1', object: { id: 'D1', title: 'Plan #unit1 #brainstorm', url: url('D1') }, metadata: { ts: 10000 }, history: { changelog: [[{ ty: 'is', ibi: 1, s: 'plan' }, 1]] } }),
      wo('s1', 20, { event: 'keystroke', doc_id: 'D1', object: { id: 'D1', title: 'Plan #unit1 #brainstorm', url: url('D1') }, metadata: { ts: 20000 } }),
      wo('s1', 30, { event: 'visibility', doc_id: 'D2', object: { id: 'D2', title: 'Essay #unit1', url: url('D2') }, metadata: { ts: 30000 } }),
      wo('s1', 40, { event: 'document_history', doc_id: 'D2', object: { id: 'D2', title: 'Essay #unit1', url: url('D2') }, metadata: { ts: 40000 }, history: { changelog: [] } }),
    ];
    const run = await runReducers(WritingObserverModule, events, { concurrency: 1 });
    expect(run.errors).toEqual([]);
    const s1 = { STUDENT: 's1' };
    expect(await run.external('document_list', s1)).toEqual({
      docs: { D1: { title: 'Plan #unit1 #brainstorm', last_access: 20 }, D2: { title: 'Essay #unit1', last_access: 40 } },
    });
    expect(await run.external('last_document', s1)).toEqual({ document_id: 'D2' });
    expect(await run.external('document_access_timestamps', s1)).toEqual({ timestamps: { '10000': 'D1', '40000': 'D2' }, last_document: 'D2' });
    expect(await run.external('document_tagging', s1)).toEqual({ tags: { unit1: ['D1', 'D2'], brainstorm: ['D1'] } });
    expect(await run.external('reconstruct', { STUDENT: 's1', 'EventField.doc_id': 'D2' })).toEqual({ text: '', position: 0, edit_metadata: { cursor: [], length: [] } });
  });
});
