/**
 * WritingObserverModule's default for Google Docs commands of an unknown type: the command is
 * ignored and `console.warn` is called once per type per module instance.
 */
import { runReducers, type LOEvent } from '@learning-observer/reducers';
import { WritingObserverModule } from '../../src/modules';

const save = (student: string, docId: string, time: number, commands: unknown[]): LOEvent => ({
  client: { source: 'org.mitros.writing_analytics', event: 'google_docs_save', doc_id: docId, bundles: [{ commands }] },
  metadata: { auth: { safe_user_id: student } },
  server: { time },
});

const RECONSTRUCT_KEY = { STUDENT: 's1', 'EventField.doc_id': 'D1' };

describe('unknown Google Docs command types (default handler)', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  it('warns once per type, names the type, and ignores the command', async () => {
    const module = new WritingObserverModule();
    const events = [
      save('s1', 'D1', 1, [{ ty: 'is', ibi: 1, s: 'Hi' }, { ty: 'zz_new' }]),
      save('s1', 'D1', 2, [{ ty: 'zz_new', x: 1 }, { ty: 'mlti', mts: [{ ty: 'yy_other' }, { ty: 'is', ibi: 3, s: '!' }] }]),
      save('s2', 'D2', 3, [{ ty: 'zz_new' }, { ty: 'yy_other' }]),
    ];
    const run = await runReducers(module, events, { concurrency: 1 });
    expect(run.errors).toEqual([]);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls).toEqual([
      ['reconstruct: ignoring Google Docs commands of unknown type "zz_new" (reported once per type).'],
      ['reconstruct: ignoring Google Docs commands of unknown type "yy_other" (reported once per type).'],
    ]);
    // The unknown commands changed nothing; the known ones around them applied.
    expect(((await run.external('reconstruct', RECONSTRUCT_KEY)) as { text: string }).text).toBe('Hi!');
  });

  it('known no-op types (formatting) do not warn', async () => {
    const module = new WritingObserverModule();
    await runReducers(module, [save('s1', 'D1', 1, [{ ty: 'is', ibi: 1, s: 'Hi' }, { ty: 'as', si: 1, ei: 2, st: 'text', sm: {} }])]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('the once-per-type memory belongs to the module instance', async () => {
    const events = [save('s1', 'D1', 1, [{ ty: 'zz_new' }]), save('s1', 'D1', 2, [{ ty: 'zz_new' }])];
    await runReducers(new WritingObserverModule(), events);
    await runReducers(new WritingObserverModule(), events);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('an onUnknownCommand option replaces the warning', async () => {
    const seen: Array<[string, Record<string, unknown>]> = [];
    const module = new WritingObserverModule({ onUnknownCommand: (type, command) => seen.push([type, command]) });
    await runReducers(module, [save('s1', 'D1', 1, [{ ty: 'zz_new', x: 1 }, { ty: 'zz_new', x: 2 }])]);
    expect(warn).not.toHaveBeenCalled();
    expect(seen).toEqual([
      ['zz_new', { ty: 'zz_new', x: 1 }],
      ['zz_new', { ty: 'zz_new', x: 2 }],
    ]);
  });
});
