import { InMemoryKVS, StoreUnavailableError, type JsonValue, type TransactionFn } from '@learning-observer/kvs';
import {
  ReducerError,
  ReducerPipeline,
  ResumeFormatError,
  StoreRetrier,
  defineReducer,
  isSequenced,
  unwrapSequenced,
  wrapSequenced,
  type LOEvent,
} from '@learning-observer/reducers';
import { ev } from './helpers';

const SRC = 'org.test.resume';
const INTERNAL = 'Internal,test.resume.r,STUDENT:s1';
const EXTERNAL = 'External,test.resume.r,STUDENT:s1';

/** Appends each event's n: any double application or gap shows in `seen`. */
const reducer = () =>
  defineReducer({ module: 'test.resume', qualname: 'r', context: SRC, nullState: { seen: [] } }, (e: LOEvent, s: { seen: number[] }) => {
    s.seen.push(e.client.n as number);
    return [s, { count: s.seen.length }];
  });
const seqOf = (e: LOEvent) => e.client.n as number;
const events = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ev(SRC, 's1', { n: from + i }));

describe('sequenced state format', () => {
  test('wraps, recognises and unwraps', () => {
    expect(wrapSequenced(7, { a: 1 })).toEqual({ __lo_seq: 7, state: { a: 1 } });
    expect(isSequenced({ __lo_seq: 7, state: null })).toBe(true);
    expect(isSequenced({ a: 1 })).toBe(false);
    expect(isSequenced([1])).toBe(false);
    expect(isSequenced({ __lo_seq: 1.5, state: 1 })).toBe(false);
    expect(unwrapSequenced('k', { __lo_seq: 7, state: { a: 1 } })).toEqual({ seq: 7, state: { a: 1 } });
    expect(unwrapSequenced('k', undefined)).toEqual({ seq: -1, state: undefined });
    expect(() => unwrapSequenced('k', { a: 1 })).toThrow(ResumeFormatError);
  });
});

describe.each([
  ['per-event', undefined],
  ['batched', 3],
])('resume mode (%s)', (_name, batchSize) => {
  test('stores the position with the state and skips events already applied', async () => {
    const store = new InMemoryKVS();
    const make = () => new ReducerPipeline({ modules: [reducer()], store, sequence: seqOf, batchSize });
    const first = make();
    for (const e of events(0, 5)) await first.process(e);
    expect(await store.get(INTERNAL)).toEqual({ __lo_seq: 4, state: { seen: [0, 1, 2, 3, 4] } });
    expect(await store.get(EXTERNAL)).toEqual({ count: 5 });

    // A restarted replay from the beginning: 0..4 are skipped, 5..7 applied once.
    const second = make();
    const results = [];
    for (const e of events(0, 8)) results.push(...(await second.process(e)));
    expect(results.map((r) => r.skipped === true)).toEqual([true, true, true, true, true, false, false, false]);
    expect(results[0]).toMatchObject({ internal: false, external: false, skipped: true });
    expect(await store.get(INTERNAL)).toEqual({ __lo_seq: 7, state: { seen: [0, 1, 2, 3, 4, 5, 6, 7] } });
    expect(await store.get(EXTERNAL)).toEqual({ count: 8 });
  });

  test('a state written without resume mode is refused, not double counted', async () => {
    const store = new InMemoryKVS();
    await store.set(INTERNAL, { seen: [0] });
    const pipeline = new ReducerPipeline({ modules: [reducer()], store, sequence: seqOf, batchSize });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    expect(await pipeline.process(events(0, 1)[0])).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0].cause).toBeInstanceOf(ResumeFormatError);
    expect(await store.get(INTERNAL)).toEqual({ seen: [0] });
  });

  test('a bad position is a reducer error', async () => {
    const pipeline = new ReducerPipeline({ modules: [reducer()], store: new InMemoryKVS(), sequence: () => -1, batchSize });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    await pipeline.process(events(0, 1)[0]);
    expect(errors.map((e) => (e.cause as Error).message)).toEqual([
      "The pipeline's sequence function must return a non-negative whole number (the event's replay position); it returned -1.",
    ]);
  });

  test('waits out an unavailable store and applies each event once', async () => {
    const inner = new InMemoryKVS();
    let failures = 3;
    let calls = 0;
    const fail = () => {
      calls++;
      if (failures-- > 0) throw new StoreUnavailableError('Redis at 127.0.0.1:1/0 is down');
    };
    // A flaky store whose transaction fails AFTER committing (a lost reply): only the position check prevents a double count.
    const store = Object.assign(Object.create(inner) as InMemoryKVS, {
      eagerTransaction: undefined,
      transaction: async (key: string, fn: TransactionFn) => {
        const r = await inner.transaction(key, fn);
        fail();
        return r;
      },
      multiget: async (keys: string[]) => {
        fail();
        return inner.multiget(keys);
      },
    });
    const log: string[] = [];
    const pipeline = new ReducerPipeline({
      modules: [reducer()],
      store,
      sequence: seqOf,
      batchSize,
      retry: { attempts: 5, delayMs: 1, onUnavailable: (e) => log.push(`down: ${e.message}`), onAvailable: () => log.push('up') },
    });
    for (const e of events(0, 3)) await pipeline.process(e);
    expect(log).toEqual(['down: Redis at 127.0.0.1:1/0 is down', 'up']);
    expect(calls).toBeGreaterThan(3);
    expect(await inner.get(INTERNAL)).toEqual({ __lo_seq: 2, state: { seen: [0, 1, 2] } });
    expect(await inner.get(EXTERNAL)).toEqual({ count: 3 });
  });
});

test('StoreRetrier gives up after `attempts` retries with the last error', async () => {
  let calls = 0;
  const retrier = new StoreRetrier({ attempts: 2, delayMs: 1 });
  await expect(
    retrier.run(async (): Promise<JsonValue> => {
      calls++;
      throw new StoreUnavailableError('down');
    }),
  ).rejects.toThrow('down');
  expect(calls).toBe(3);
  expect(() => new StoreRetrier({ attempts: -1, delayMs: 1 })).toThrow('retry.attempts must be a whole number >= 0; got -1.');
});
