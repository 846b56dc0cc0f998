/**
 * The root README's "Write a reducer" and "Read it from a dashboard" examples, verbatim in
 * substance, run end to end: if this test breaks, update the README with it.
 */
import 'reflect-metadata';
import { InMemoryKVS } from '@learning-observer/kvs';
import {
  reducerModule, kvsPipeline, studentEventReducer, Scope, KeyField, EventField, ReducerPipeline, ReducerRegistry,
  type LOEvent, type ReducerOutput,
} from '@learning-observer/reducers';
import { readStates } from '@learning-observer/query';

type Tot = { saved_ts: number | null; total_time_on_task: number };

@reducerModule('writing_observer.writing_analysis', { context: 'org.mitros.writing_analytics' })
class WritingAnalysis {
  constructor(readonly thresholdSeconds = 60) {}

  @kvsPipeline({ scope: new Scope([KeyField.STUDENT, new EventField('doc_id')]),
                 nullState: { saved_ts: null, total_time_on_task: 0 } })
  time_on_task(event: LOEvent, state: Tot): ReducerOutput {
    const now = event.server?.time ?? 0;
    const gap = state.saved_ts === null ? 0 : Math.max(0, now - state.saved_ts);
    const next = { saved_ts: now, total_time_on_task: state.total_time_on_task + Math.min(this.thresholdSeconds, gap) };
    return [next, { total_time_on_task: next.total_time_on_task }];
  }

  @studentEventReducer({ nullState: { count: 0 } })
  event_count(_event: LOEvent, state: { count: number }): ReducerOutput {
    return [{ count: state.count + 1 }, false];
  }
}

const ev = (student: string, doc: string, time: number): LOEvent => ({
  client: { source: 'org.mitros.writing_analytics', event: 'keystroke', doc_id: doc },
  metadata: { auth: { safe_user_id: student } },
  server: { time },
});

test('README reducer and dashboard examples give the documented values', async () => {
  const store = new InMemoryKVS();
  const pipeline = new ReducerPipeline({ modules: [new WritingAnalysis()], store });
  for (const t of [1000, 1010, 1100, 1105.5]) await pipeline.process(ev('s1', 'D1', t));
  await pipeline.process(ev('s3', 'D2', 1000));

  const registry = new ReducerRegistry();
  registry.register(WritingAnalysis);
  const roster = ['s1', 's2', 's3'];
  const states = await readStates('writing_observer.writing_analysis.time_on_task',
    roster.map((id) => ({ STUDENT: id, 'EventField.doc_id': 'D1' })), { reducers: registry, store });
  expect(states).toEqual([{ total_time_on_task: 75.5 }, { saved_ts: null, total_time_on_task: 0 }, { saved_ts: null, total_time_on_task: 0 }]);

  expect(await store.get('Internal,writing_observer.writing_analysis.event_count,STUDENT:s1')).toEqual({ count: 4 });
  expect(await store.get('External,writing_observer.writing_analysis.event_count,STUDENT:s1')).toBeUndefined();
  await store.close();
});

test('a configured threshold is used through `this`', async () => {
  const store = new InMemoryKVS();
  const pipeline = new ReducerPipeline({ modules: [new WritingAnalysis(30)], store });
  for (const t of [1000, 1100]) await pipeline.process(ev('s1', 'D1', t));
  expect(await store.get('External,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D1,STUDENT:s1'))
    .toEqual({ total_time_on_task: 30 });
  await store.close();
});
