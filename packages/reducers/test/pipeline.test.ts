import { Subject, from, lastValueFrom, toArray } from 'rxjs';
import { InMemoryKVS, configureKVS, resetKVS, KVSRouter, type JsonValue, type KVStore, type TransactionFn } from '@learning-observer/kvs';
import {
  EventField,
  InvalidReducerResultError,
  KeyField,
  ReducerError,
  ReducerFrameworkError,
  ReducerPipeline,
  StoreResolutionError,
  defineReducer,
  kvsPipeline,
  reducerModule,
  studentEventReducer,
  type LOEvent,
  type ReducerOutput,
  type ReducerResult,
} from '@learning-observer/reducers';
import { NullStore, SRC, Sequence, SlowCallbackStore, SlowStore, asStore, ev, exposeGc, prng } from './helpers';


/**
 * `inner`, except that every `n`th call of `transaction` (or of `transactionWithCallbacks`, when
 * `inner` has it) throws or fails (`Error('transaction <how>')`: a rejection, or `onError`).
 */
function failingEvery(n: number, how: 'throws' | 'rejects', inner: SlowStore): SlowStore {
  let calls = 0;
  return new Proxy(inner, {
    get(target, name, receiver) {
      if (name === 'transaction') {
        return (key: string, fn: TransactionFn) => {
          if (++calls % n !== 0) return target.transaction(key, fn);
          const error = new Error(`transaction ${how}`);
          if (how === 'throws') throw error;
          return Promise.reject(error);
        };
      }
      if (name === 'transactionWithCallbacks' && target instanceof SlowCallbackStore) {
        return (...args: Parameters<SlowCallbackStore['transactionWithCallbacks']>) => {
          if (++calls % n !== 0) return target.transactionWithCallbacks(...args);
          const error = new Error(`transaction ${how}`);
          if (how === 'throws') throw error;
          const [, , arg, , onError] = args;
          setImmediate(() => onError(error, arg));
        };
      }
      return Reflect.get(target, name, receiver);
    },
  });
}

function interleaved(students: number, perStudent: number): LOEvent[] {
  const events: LOEvent[] = [];
  for (let n = 0; n < perStudent; n++) for (let s = 0; s < students; s++) events.push(ev(SRC, `s${s}`, { n }));
  return events;
}

describe('ordering and concurrency', () => {
  test('the slow store really reorders concurrent calls on one key (so the next test means something)', async () => {
    const store = new SlowStore(3);
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.transaction('k', async () => { order.push(i); return {}; })),
    );
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
  });
});

// The same guarantees through `transaction` and through `transactionWithCallbacks` (Redis' path).
describe.each([
  ['transaction', (seed: number, maxDelayMs?: number) => new SlowStore(seed, maxDelayMs)],
  ['transactionWithCallbacks', (seed: number, maxDelayMs?: number) => new SlowCallbackStore(seed, maxDelayMs)],
])('ordering and concurrency through %s', (_path, makeStore) => {
  test('per key, events are applied one at a time in arrival order; keys run concurrently up to the bound', async () => {
    const store = makeStore(42);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 8 });
    const results = await lastValueFrom(pipeline.run(interleaved(12, 25)).pipe(toArray()));
    expect(results).toHaveLength(300);
    for (let s = 0; s < 12; s++) {
      expect(await store.get(`Internal,test.seq.seq,STUDENT:s${s}`)).toEqual({ seen: Array.from({ length: 25 }, (_, i) => i) });
      expect(await store.get(`External,test.seq.seq,STUDENT:s${s}`)).toEqual({ last: 24, count: 25 });
    }
    // results of one key are emitted in order too
    const forS3 = results.filter((r) => r.fields.STUDENT === 's3').map((r) => (r.external as { last: number }).last);
    expect(forS3).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(store.maxActive).toBeLessThanOrEqual(8);
    expect(store.maxActive).toBeGreaterThan(1);
    expect(pipeline.activeKeys).toBe(0);
  });

  test('operator() keeps the same guarantees for a push source', async () => {
    const store = makeStore(7);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 4 });
    const results = await lastValueFrom(from(interleaved(5, 20)).pipe(pipeline.operator(), toArray()));
    expect(results).toHaveLength(100);
    for (let s = 0; s < 5; s++) {
      expect(await store.get(`Internal,test.seq.seq,STUDENT:s${s}`)).toEqual({ seen: Array.from({ length: 20 }, (_, i) => i) });
    }
    expect(store.maxActive).toBeLessThanOrEqual(4);
  });

  test('concurrent process() calls keep per-key arrival order', async () => {
    const store = makeStore(9);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 3 });
    const all = await Promise.all(interleaved(4, 15).map((e) => pipeline.process(e)));
    expect(all.every((r) => r.length === 1)).toBe(true);
    for (let s = 0; s < 4; s++) {
      expect(await store.get(`Internal,test.seq.seq,STUDENT:s${s}`)).toEqual({ seen: Array.from({ length: 15 }, (_, i) => i) });
    }
    expect(store.maxActive).toBeLessThanOrEqual(3);
  });

  test('run() pulls events only while fewer than `concurrency` tasks are in flight (backpressure)', async () => {
    const store = makeStore(11, 3);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 5 });
    let pulled = 0;
    let maxAhead = 0;
    let finished = 0;
    async function* source() {
      for (const e of interleaved(50, 4)) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - finished);
        yield e;
      }
    }
    await new Promise<void>((resolve, reject) =>
      pipeline.run(source()).subscribe({ next: () => finished++, error: reject, complete: resolve }),
    );
    expect(finished).toBe(200);
    // each event starts one task here, so at most `concurrency` events are read but unfinished
    expect(maxAhead).toBeLessThanOrEqual(5);
  });

  test('the pipeline takes the store\'s callback path when it has one', async () => {
    const store = makeStore(3);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 4 });
    await lastValueFrom(pipeline.run(interleaved(3, 5)).pipe(toArray()));
    expect(store.transactions).toBe(15);
    const viaCallbacks = store instanceof SlowCallbackStore ? store.callbackTransactions : undefined;
    expect(viaCallbacks).toBe(_path === 'transactionWithCallbacks' ? 15 : undefined);
  });
});

describe('ordering and concurrency on an in-memory store (synchronous fast path) with a slow async reducer', () => {
  test('per-key order, at most `concurrency` reducer calls at once, and run() reads ahead at most that much', async () => {
    const rand = prng(3);
    let active = 0;
    let maxActive = 0;
    const slow = defineReducer({ module: 'test.slow', qualname: 'r', context: SRC, nullState: { seen: [] } }, async (e, s: { seen: number[] }) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 3)));
      active--;
      const next = { seen: [...s.seen, e.client.n as number] };
      return [next, false];
    });
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [slow], store, concurrency: 4 });
    let pulled = 0;
    let finished = 0;
    let maxAhead = 0;
    function* source(): Generator<LOEvent> {
      for (const e of interleaved(10, 12)) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - finished);
        yield e;
      }
    }
    await new Promise<void>((resolve, reject) => pipeline.run(source()).subscribe({ next: () => finished++, error: reject, complete: resolve }));
    expect(finished).toBe(120);
    for (let s = 0; s < 10; s++) {
      expect(await store.get(`Internal,test.slow.r,STUDENT:s${s}`)).toEqual({ seen: Array.from({ length: 12 }, (_, i) => i) });
    }
    expect(maxActive).toBeLessThanOrEqual(4);
    expect(maxActive).toBeGreaterThan(1);
    expect(maxAhead).toBeLessThanOrEqual(4);
    expect(pipeline.activeKeys).toBe(0);
  });
});

describe('state semantics', () => {
  test('`false` means "do not write": internal, external, or both', async () => {
    const store = new InMemoryKVS();
    const r = defineReducer(
      { module: 'test.f', qualname: 'r', context: SRC, nullState: { n: 0 } },
      (event, s: { n: number }) => {
        const next = { n: s.n + 1 };
        const mode = event.client.mode;
        return mode === 'noInternal' ? [false, next] : mode === 'noExternal' ? [next, false] : mode === 'none' ? [false, false] : [next, next];
      },
    );
    const pipeline = new ReducerPipeline({ modules: [r], store });
    const [a] = await pipeline.process(ev(SRC, 'a', { mode: 'noInternal' }));
    expect(a).toEqual({
      reducerId: 'test.f.r',
      fields: { STUDENT: 'a' },
      internalKey: 'Internal,test.f.r,STUDENT:a',
      externalKey: 'External,test.f.r,STUDENT:a',
      internal: false,
      external: { n: 1 },
    });
    await pipeline.process(ev(SRC, 'b', { mode: 'noExternal' }));
    await pipeline.process(ev(SRC, 'c', { mode: 'none' }));
    expect(await store.dump()).toEqual({
      'External,test.f.r,STUDENT:a': { n: 1 },
      'Internal,test.f.r,STUDENT:b': { n: 1 },
    });
    // the internal state was never written for `a`, so the next event starts from nullState again
    await pipeline.process(ev(SRC, 'a', { mode: 'both' }));
    expect(await store.get('Internal,test.f.r,STUDENT:a')).toEqual({ n: 1 });
  });

  test('nullState is deep-copied for each key and never written before the reducer runs', async () => {
    const nullState = { items: [] as string[], nested: { hits: 0 } };
    const seenStates: unknown[] = [];
    const r = defineReducer({ module: 'test.n', qualname: 'r', context: SRC, nullState }, (event, s: typeof nullState) => {
      seenStates.push(s);
      s.items.push(event.client.item as string);
      s.nested.hits++;
      return [s, false];
    });
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [r], store });
    await pipeline.process(ev(SRC, 'a', { item: 'x' }));
    await pipeline.process(ev(SRC, 'b', { item: 'y' }));
    expect(seenStates[0]).not.toBe(seenStates[1]);
    expect(await store.get('Internal,test.n.r,STUDENT:a')).toEqual({ items: ['x'], nested: { hits: 1 } });
    expect(await store.get('Internal,test.n.r,STUDENT:b')).toEqual({ items: ['y'], nested: { hits: 1 } });
    expect(nullState).toEqual({ items: [], nested: { hits: 0 } });

    const peek = defineReducer({ module: 'test.n', qualname: 'peek', context: SRC, nullState: { z: 1 } }, async () => {
      expect(await store.get('Internal,test.n.peek,STUDENT:q')).toBeUndefined();
      return [false, false];
    });
    await new ReducerPipeline({ modules: [peek], store }).process(ev(SRC, 'q'));
    expect(await store.get('Internal,test.n.peek,STUDENT:q')).toBeUndefined();
  });

  test('events without auth metadata count for [guest]', async () => {
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [Sequence], store });
    const [r] = await pipeline.process({ client: { source: SRC, n: 1 } });
    expect(r.internalKey).toBe('Internal,test.seq.seq,STUDENT:[guest]');
    expect(await store.get('External,test.seq.seq,STUDENT:[guest]')).toEqual({ last: 1, count: 1 });
  });

  @reducerModule('test.doc', { context: [SRC, 'org.other'] })
  class PerDoc {
    @kvsPipeline({ scope: [KeyField.STUDENT, new EventField('doc_id')], nullState: 0 })
    edits(_e: LOEvent, n: number): ReducerOutput {
      return [n + 1, n + 1];
    }
  }

  test('a reducer whose EventField is absent or null is skipped; values are rendered and escaped', async () => {
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [PerDoc], store });
    expect(await pipeline.process(ev(SRC, 's', {}))).toEqual([]);
    expect(await pipeline.process(ev(SRC, 's', { doc_id: null }))).toEqual([]);
    await pipeline.process(ev(SRC, 's', { doc_id: 'D,1' }));
    await pipeline.process(ev(SRC, 's', { doc_id: 7 }));
    await pipeline.process(ev(SRC, 's', { doc_id: true }));
    expect(Object.keys(await store.dump()).sort()).toEqual([
      'External,test.doc.edits,EventField.doc_id:7,STUDENT:s',
      'External,test.doc.edits,EventField.doc_id:D%2C1,STUDENT:s',
      'External,test.doc.edits,EventField.doc_id:True,STUDENT:s',
      'Internal,test.doc.edits,EventField.doc_id:7,STUDENT:s',
      'Internal,test.doc.edits,EventField.doc_id:D%2C1,STUDENT:s',
      'Internal,test.doc.edits,EventField.doc_id:True,STUDENT:s',
    ]);
  });

  test('an event without `client` (source in metadata only): EventField reducers are skipped, student reducers run, nothing throws', async () => {
    const store = new InMemoryKVS();
    const perStudent = defineReducer({ module: 'test.noclient', qualname: 'count', context: SRC, nullState: 0, scope: [KeyField.STUDENT] }, (_e, n: number) => [n + 1, n + 1]);
    const pipeline = new ReducerPipeline({ modules: [PerDoc, perStudent], store });
    const noClient = { metadata: { source: SRC, auth: { safe_user_id: 's' } } } as unknown as LOEvent;
    expect((await pipeline.process(noClient)).map((r) => r.reducerId)).toEqual(['test.noclient.count']);
    const results: unknown[] = [];
    await new Promise<void>((resolve, reject) =>
      pipeline.run([noClient, ev(SRC, 's', { doc_id: 'D' })]).subscribe({ next: (r) => results.push(r), error: reject, complete: resolve }),
    );
    expect(results).toHaveLength(3); // the stream went on past the event without client
    expect(await store.get('External,test.doc.edits,EventField.doc_id:D,STUDENT:s')).toBe(1);
    expect(await store.get('External,test.noclient.count,STUDENT:s')).toBe(3);
  });

  test('an empty scope keeps one global state per reducer', async () => {
    const global = defineReducer({ module: 'test.global', qualname: 'count', context: SRC, nullState: 0, scope: [] }, (_e, n: number) => [n + 1, n + 1]);
    const other = defineReducer({ module: 'test.global', qualname: 'other', context: SRC, nullState: 0, scope: [] }, (_e, n: number) => [n + 10, false]);
    for (const batchSize of [undefined, 3]) {
      const store = new InMemoryKVS();
      const pipeline = new ReducerPipeline({ modules: [global, other], store, batchSize });
      const events = [ev(SRC, 'a', { doc_id: 'D1' }), ev(SRC, 'b'), ev(SRC, undefined), ev(SRC, 'a', { doc_id: 'D2' })];
      const results = await lastValueFrom(pipeline.run(events).pipe(toArray()));
      expect(results.filter((r) => r.reducerId === 'test.global.count').map((r) => [r.internalKey, r.fields, r.external])).toEqual([
        ['Internal,test.global.count', {}, 1],
        ['Internal,test.global.count', {}, 2],
        ['Internal,test.global.count', {}, 3],
        ['Internal,test.global.count', {}, 4],
      ]);
      expect(await store.dump()).toEqual({
        'External,test.global.count': 4,
        'Internal,test.global.count': 4,
        'Internal,test.global.other': 40,
      });
    }
  });

  test('only reducers whose context matches the event source run', async () => {
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [PerDoc, Sequence], store });
    expect(await pipeline.process(ev('org.unknown', 's', { doc_id: 'D', n: 1 }))).toEqual([]);
    expect(await pipeline.process({ client: { doc_id: 'D', n: 1 } })).toEqual([]);
    expect((await pipeline.process(ev('org.other', 's', { doc_id: 'D', n: 1 }))).map((r) => r.reducerId)).toEqual(['test.doc.edits']);
    expect((await pipeline.process(ev(SRC, 's', { doc_id: 'D', n: 1 }))).map((r) => r.reducerId).sort()).toEqual(['test.doc.edits', 'test.seq.seq']);
    // source from metadata when the client has none
    const fromMeta = await pipeline.process({ client: { doc_id: 'D' }, metadata: { source: 'org.other', auth: { safe_user_id: 's' } } });
    expect(fromMeta.map((r) => r.internalKey)).toEqual(['Internal,test.doc.edits,EventField.doc_id:D,STUDENT:s']);
    expect(await store.get('Internal,test.doc.edits,EventField.doc_id:D,STUDENT:s')).toBe(3);
  });

  test('the method runs with the module instance as `this` (configuration such as thresholds)', async () => {
    @reducerModule('test.tot', { context: SRC })
    class TimeOnTask {
      constructor(readonly threshold = 60) {}
      @studentEventReducer({ nullState: { saved: null, total: 0 } })
      time_on_task(event: LOEvent, s: { saved: number | null; total: number }): ReducerOutput {
        const now = event.server!.time!;
        const total = s.saved === null ? s.total : s.total + Math.min(this.threshold, now - s.saved);
        return [{ saved: now, total }, { total }];
      }
    }
    const times = [1000, 1010, 1100, 1105.5];
    const events = times.map((t) => ({ ...ev(SRC, 's'), server: { time: t } }));
    const store = new InMemoryKVS();
    await lastValueFrom(new ReducerPipeline({ modules: [new TimeOnTask(30)], store }).run(events).pipe(toArray()));
    expect(await store.get('External,test.tot.time_on_task,STUDENT:s')).toEqual({ total: 45.5 });
    const store2 = new InMemoryKVS();
    await lastValueFrom(new ReducerPipeline({ modules: [TimeOnTask], store: store2 }).run(events).pipe(toArray()));
    expect(await store2.get('External,test.tot.time_on_task,STUDENT:s')).toEqual({ total: 75.5 });
  });

  test('module and qualname overrides make a TypeScript reducer write the Python original\'s keys', async () => {
    @reducerModule('ts.analysis', { context: 'org.mitros.writing_analytics' })
    class Ported {
      @kvsPipeline({
        scope: [KeyField.STUDENT, new EventField('doc_id'), new EventField('tab_id')],
        nullState: 0,
        module: 'writing_observer.writing_analysis',
        qualname: 'time_on_task',
      })
      timeOnTask(_e: LOEvent, n: number): ReducerOutput {
        return [n + 1, n + 1];
      }
    }
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [Ported], store });
    const [r] = await pipeline.process(ev('org.mitros.writing_analytics', 'gc-123', { doc_id: 'D', tab_id: 't.0' }));
    expect(r.reducerId).toBe('writing_observer.writing_analysis.time_on_task');
    // a reference vector of the original (spec/reference-vectors.md)
    expect(r.externalKey).toBe('External,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D,EventField.tab_id:t.0,STUDENT:gc-123');
    expect(Object.keys(await store.dump())).toEqual([
      'External,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D,EventField.tab_id:t.0,STUDENT:gc-123',
      'Internal,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D,EventField.tab_id:t.0,STUDENT:gc-123',
    ]);
  });

  test('the `reducers` option selects by id or module and rejects unknown names', async () => {
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [PerDoc, Sequence], store, reducers: ['test.seq'] });
    expect(pipeline.definitions.map((d) => d.id)).toEqual(['test.seq.seq']);
    expect(() => new ReducerPipeline({ modules: [Sequence], store, reducers: ['nope'] })).toThrow(
      'Unknown reducer "nope": the registered reducers are test.seq.seq. Give reducer ids or module names.',
    );
    expect(() => new ReducerPipeline({ store })).toThrow(ReducerFrameworkError);
    expect(() => new ReducerPipeline({ modules: [Sequence], store, concurrency: 0 })).toThrow('concurrency must be a positive integer; got 0.');
  });
});

describe('errors', () => {
  const bad = (returns: (e: LOEvent) => unknown) =>
    defineReducer({ module: 'test.err', qualname: 'r', context: SRC, nullState: { n: 0 } }, (e, s: { n: number }) => {
      if (e.metadata?.auth?.safe_user_id === 'bad') return returns(e) as ReducerOutput;
      return [{ n: s.n + 1 }, { n: s.n + 1 }];
    });

  test('a throwing reducer is reported with reducer id, key, event and cause; other keys go on', async () => {
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [bad(() => { throw new RangeError('boom'); })], store, concurrency: 4 });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    const events = [ev(SRC, 'a'), ev(SRC, 'bad'), ev(SRC, 'b'), ev(SRC, 'a')];
    const results = await lastValueFrom(pipeline.run(events).pipe(toArray()));
    expect(results.map((r) => r.internalKey).sort()).toEqual([
      'Internal,test.err.r,STUDENT:a',
      'Internal,test.err.r,STUDENT:a',
      'Internal,test.err.r,STUDENT:b',
    ]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ReducerError);
    expect(errors[0].reducerId).toBe('test.err.r');
    expect(errors[0].internalKey).toBe('Internal,test.err.r,STUDENT:bad');
    expect(errors[0].event).toBe(events[1]);
    expect(errors[0].cause).toBeInstanceOf(RangeError);
    expect(errors[0].message).toBe(
      'Reducer test.err.r failed for key "Internal,test.err.r,STUDENT:bad": RangeError: boom. Nothing was written for this key and event; fix the reducer (or its input) and replay the event.',
    );
    expect(await store.dump()).toEqual({
      'External,test.err.r,STUDENT:a': { n: 2 },
      'External,test.err.r,STUDENT:b': { n: 1 },
      'Internal,test.err.r,STUDENT:a': { n: 2 },
      'Internal,test.err.r,STUDENT:b': { n: 1 },
    });
  });

  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  test.each([
    ['a non-tuple', () => ({ n: 1 }), 'Reducer test.err.r must return [internalState, externalState] (use false for a state not to write); it returned {"n":1}.'],
    ['a 3-tuple', () => [1, 2, 3], 'it returned [1,2,3]'],
    ['undefined', () => undefined, 'it returned undefined'],
    ['undefined inside', () => [{ a: undefined }, false], 'returned an internal state that is not JSON: the value at $.a is undefined'],
    ['NaN', () => [false, { n: NaN }], 'returned an external state that is not JSON: the value at $.n is NaN'],
    ['a BigInt', () => [{ n: 1n }, false], 'the value at $.n is a BigInt'],
    ['a cycle', () => [cyclic, false], 'the value at $.self is a circular reference'],
    ['undefined state', () => [undefined, false], 'the value at $ is undefined'],
  ])('returning %s is a ReducerError and nothing is written', async (_name, returns, message) => {
    // In memory (the eager path), through `transaction`, and through `transactionWithCallbacks`
    // (where the store's own check of the states is what catches them).
    for (const store of [new InMemoryKVS(), asStore(new SlowStore(1)), asStore(new SlowCallbackStore(1))]) {
      const pipeline = new ReducerPipeline({ modules: [bad(returns)], store });
      const errors: ReducerError[] = [];
      pipeline.errors$.subscribe((e) => errors.push(e));
      expect(await pipeline.process(ev(SRC, 'bad'))).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0].cause).toBeInstanceOf(InvalidReducerResultError);
      expect((errors[0].cause as Error).message).toContain(message);
      expect(await store.dump()).toEqual({});
    }
  });

  test("onError: 'stop' errors run() and operator() and rejects process()", async () => {
    const mod = bad(() => { throw new Error('stop here'); });
    const mk = () => new ReducerPipeline({ modules: [mod], store: new InMemoryKVS(), onError: 'stop' });
    const events = [ev(SRC, 'a'), ev(SRC, 'bad'), ev(SRC, 'b')];
    await expect(lastValueFrom(mk().run(events))).rejects.toThrow(/Reducer test.err.r failed .*Error: stop here/);
    await expect(lastValueFrom(from(events).pipe(mk().operator()))).rejects.toBeInstanceOf(ReducerError);
    const p = mk();
    const seen: ReducerError[] = [];
    p.errors$.subscribe((e) => seen.push(e));
    await expect(p.process(ev(SRC, 'bad'))).rejects.toBeInstanceOf(ReducerError);
    expect(seen).toHaveLength(1);
    await expect(p.process(ev(SRC, 'a'))).resolves.toHaveLength(1);
  });

  test('a throwing reducer does not stop the other reducers of the same event (in-memory and slow store)', async () => {
    const thrower = defineReducer({ module: 'test.iso', qualname: 'thrower', context: SRC, nullState: 0 }, () => {
      throw new Error('always');
    });
    const counter = defineReducer({ module: 'test.iso', qualname: 'counter', context: SRC, nullState: 0 }, (_e, n: number) => [n + 1, n + 1]);
    for (const store of [new InMemoryKVS(), asStore(new SlowStore(4))]) {
      const pipeline = new ReducerPipeline({ modules: [thrower, counter], store });
      const errors: ReducerError[] = [];
      pipeline.errors$.subscribe((e) => errors.push(e));
      const results = await pipeline.process(ev(SRC, 's'));
      expect(results.map((r) => r.reducerId)).toEqual(['test.iso.counter']);
      expect(errors.map((e) => e.internalKey)).toEqual(['Internal,test.iso.thrower,STUDENT:s']);
      expect(await store.dump()).toEqual({ 'External,test.iso.counter,STUDENT:s': 1, 'Internal,test.iso.counter,STUDENT:s': 1 });
    }
  });

  test('after a reducer fails on an event of a key, later events of that key are still applied (in-memory and slow store)', async () => {
    const failOnTwo = defineReducer({ module: 'test.after', qualname: 'r', context: SRC, nullState: { seen: [] } }, (e, s: { seen: number[] }) => {
      if (e.client.n === 2) throw new Error('bad event');
      return [{ seen: [...s.seen, e.client.n as number] }, false];
    });
    for (const store of [new InMemoryKVS(), asStore(new SlowStore(12))]) {
      for (const way of ['run', 'operator', 'process'] as const) {
        await store.clear();
        const pipeline = new ReducerPipeline({ modules: [failOnTwo], store, concurrency: 2 });
        const errors: ReducerError[] = [];
        pipeline.errors$.subscribe((e) => errors.push(e));
        const events = [1, 2, 3, 4].map((n) => ev(SRC, 's', { n }));
        if (way === 'run') await lastValueFrom(pipeline.run(events).pipe(toArray()));
        else if (way === 'operator') await lastValueFrom(from(events).pipe(pipeline.operator(), toArray()));
        else await Promise.all(events.map((e) => pipeline.process(e)));
        expect(errors.map((e) => [e.internalKey, e.event])).toEqual([['Internal,test.after.r,STUDENT:s', events[1]]]);
        expect(await store.get('Internal,test.after.r,STUDENT:s')).toEqual({ seen: [1, 3, 4] });
      }
    }
  });

  test('a failing store is a ReducerError too', async () => {
    const store = new InMemoryKVS();
    await store.close();
    const pipeline = new ReducerPipeline({ modules: [Sequence], store });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    await pipeline.process(ev(SRC, 's', { n: 1 }));
    expect(errors[0].cause).toBeInstanceOf(Error);
    expect((errors[0].cause as Error).name).toBe('StoreClosedError');
  });

  test('a store whose transaction throws synchronously or rejects: a ReducerError per event, and its slot is freed', async () => {
    for (const [how, Store] of [['throws', SlowStore], ['rejects', SlowStore], ['throws', SlowCallbackStore], ['rejects', SlowCallbackStore]] as const) {
      const inner = new Store(5, 1);
      // Every third call fails; the others go through.
      const store = failingEvery(3, how, inner);
      // One slot: a failed call that kept its slot would stall every later event.
      const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 1 });
      const errors: ReducerError[] = [];
      pipeline.errors$.subscribe((e) => errors.push(e));
      const results = await lastValueFrom(pipeline.run(interleaved(3, 4)).pipe(toArray()));
      expect(errors.map((e) => (e.cause as Error).message)).toEqual(Array.from({ length: 4 }, () => `transaction ${how}`));
      expect(errors.every((e) => e instanceof ReducerError && e.reducerId === 'test.seq.seq')).toBe(true);
      expect(results).toHaveLength(8);
      expect(inner.maxActive).toBe(1);
      expect(pipeline.activeKeys).toBe(0);
    }
  });

  test('tasks queued behind a key go on, in order, past a store call that throws or rejects', async () => {
    for (const [how, Store] of [['throws', SlowStore], ['rejects', SlowStore], ['throws', SlowCallbackStore], ['rejects', SlowCallbackStore]] as const) {
      const inner = new Store(7, 2);
      const store = failingEvery(4, how, inner);
      // Two students, 12 events each, 16 in flight: most tasks wait behind their key.
      const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 16 });
      const errors: ReducerError[] = [];
      pipeline.errors$.subscribe((e) => errors.push(e));
      const results = await lastValueFrom(pipeline.run(interleaved(2, 12)).pipe(toArray()));
      expect(pipeline.activeKeys).toBe(0);
      expect(errors.map((e) => (e.cause as Error).message)).toEqual(Array.from({ length: 6 }, () => `transaction ${how}`));
      expect(results).toHaveLength(18);
      // The calls that went through were applied one at a time, in arrival order, per key.
      for (const s of ['s0', 's1']) {
        const state = (await inner.get(`Internal,test.seq.seq,STUDENT:${s}`)) as { seen: number[] };
        expect(state.seen).toEqual([...state.seen].sort((a, b) => a - b));
      }
      const applied = [
        ...((await inner.get('Internal,test.seq.seq,STUDENT:s0')) as { seen: number[] }).seen,
        ...((await inner.get('Internal,test.seq.seq,STUDENT:s1')) as { seen: number[] }).seen,
      ];
      expect(applied).toHaveLength(18);
    }
  });

  test('a source that throws errors the run', async () => {
    function* source(): Generator<LOEvent> {
      yield ev(SRC, 'a', { n: 1 });
      throw new Error('log unreadable');
    }
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: new InMemoryKVS() });
    await expect(lastValueFrom(pipeline.run(source()))).rejects.toThrow('log unreadable');
  });
});

describe('stores', () => {
  @reducerModule('test.backend', { context: SRC })
  class TwoStores {
    @studentEventReducer({ nullState: 0 })
    plain(_e: LOEvent, n: number): ReducerOutput { return [n + 1, n + 1]; }
    @studentEventReducer({ nullState: 0, backend: 'cache' })
    cached(_e: LOEvent, n: number): ReducerOutput { return [n + 1, n + 1]; }
  }

  test('a reducer with `backend` uses the named store of the router; others use `store`', async () => {
    const router = new KVSRouter({ kvs: { default: { type: 'stub' }, cache: { type: 'stub' } } });
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [TwoStores], store, router });
    await pipeline.process(ev(SRC, 's'));
    expect(Object.keys(await store.dump())).toEqual(['External,test.backend.plain,STUDENT:s', 'Internal,test.backend.plain,STUDENT:s']);
    expect(Object.keys(await router.get('cache').dump())).toEqual(['External,test.backend.cached,STUDENT:s', 'Internal,test.backend.cached,STUDENT:s']);
    expect(await router.get('default').dump()).toEqual({});
    await router.close();
  });

  test('`router` without `store`: reducers without a backend use the router\'s `default`, not the global KVS', async () => {
    await resetKVS(); // no global configuration: only the router can resolve `default`
    const router = new KVSRouter({ kvs: { default: { type: 'stub' }, cache: { type: 'stub' } } });
    const pipeline = new ReducerPipeline({ modules: [TwoStores], router });
    await pipeline.process(ev(SRC, 's'));
    expect(await router.get('default').dump()).toEqual({ 'External,test.backend.plain,STUDENT:s': 1, 'Internal,test.backend.plain,STUDENT:s': 1 });
    expect(await router.get('cache').dump()).toEqual({ 'External,test.backend.cached,STUDENT:s': 1, 'Internal,test.backend.cached,STUDENT:s': 1 });
    await router.close();
  });

  test('without store or router, the global KVS() and KVS.<name>() are used', async () => {
    const router = configureKVS({ kvs: { default: { type: 'stub' }, cache: { type: 'stub' } } });
    try {
      const pipeline = new ReducerPipeline({ modules: [TwoStores] });
      await pipeline.process(ev(SRC, 's'));
      expect(await router.get('default').get('External,test.backend.plain,STUDENT:s')).toBe(1);
      expect(await router.get('cache').get('External,test.backend.cached,STUDENT:s')).toBe(1);
    } finally {
      await resetKVS();
    }
  });

  test('a backend that is not configured fails at construction with a clear error', () => {
    const router = new KVSRouter({ kvs: { default: { type: 'stub' } } });
    expect(() => new ReducerPipeline({ modules: [TwoStores], store: new InMemoryKVS(), router })).toThrow(StoreResolutionError);
    expect(() => new ReducerPipeline({ modules: [TwoStores], store: new InMemoryKVS(), router })).toThrow(
      /Cannot find the store for reducer test.backend.cached \(backend "cache"\): .*Configure a backend named "cache"/,
    );
    expect(() => new ReducerPipeline({ modules: [Sequence] })).toThrow(/Cannot find the store for reducer test.seq.seq \(default backend\)/);
  });
});

describe('memory', () => {
  test('100k distinct keys: idle per-key chains are released and the heap stays bounded', async () => {
    const store = new NullStore();
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 64 });
    const gc = exposeGc();
    gc();
    const before = process.memoryUsage().heapUsed;
    let peakActiveKeys = 0;
    let done = 0;
    function* events(): Generator<LOEvent> {
      for (let i = 0; i < 100_000; i++) {
        peakActiveKeys = Math.max(peakActiveKeys, pipeline.activeKeys);
        yield ev(SRC, `student-${i}`, { n: i });
      }
    }
    await new Promise<void>((resolve, reject) =>
      pipeline.run(events()).subscribe({ next: () => done++, error: reject, complete: resolve }),
    );
    expect(done).toBe(100_000);
    expect(store.transactions).toBe(100_000);
    expect(pipeline.activeKeys).toBe(0);
    expect(peakActiveKeys).toBeLessThanOrEqual(64);
    gc();
    // generous: 100k retained keys with their events and chains would take well over 20 MB
    // (the pipeline's bounded key cache, at most 16k keys, stays well under it)
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(20 * 1024 * 1024);
  });

  test('100k distinct keys through operator(): per-key chains and the buffer are released, the heap stays bounded', async () => {
    const store = new NullStore();
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 64 });
    const gc = exposeGc();
    gc();
    const before = process.memoryUsage().heapUsed;
    let peakActiveKeys = 0;
    let peakBuffered = 0;
    let done = 0;
    const source = new Subject<LOEvent>();
    const end = new Promise<void>((resolve, reject) =>
      source.pipe(pipeline.operator()).subscribe({ next: () => done++, error: reject, complete: resolve }),
    );
    // A push source in bursts of 2,000 (under the default maxBuffered), a turn of the event loop apart.
    for (let i = 0; i < 100_000; i++) {
      source.next(ev(SRC, `student-${i}`, { n: i }));
      peakActiveKeys = Math.max(peakActiveKeys, pipeline.activeKeys);
      peakBuffered = Math.max(peakBuffered, pipeline.bufferedEvents);
      if (i % 2000 === 1999) await new Promise<void>((r) => setImmediate(r));
    }
    source.complete();
    await end;
    expect(done).toBe(100_000);
    expect(store.transactions).toBe(100_000);
    expect(pipeline.activeKeys).toBe(0);
    expect(pipeline.bufferedEvents).toBe(0);
    expect(peakActiveKeys).toBeLessThanOrEqual(64);
    expect(peakBuffered).toBeGreaterThan(0); // the bursts really went through the buffer
    gc();
    // generous, as for run(): 100k retained keys, events or chains would take well over 20 MB
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(20 * 1024 * 1024);
  });

  test.each([
    ['a synchronous reducer (no Promise at all)', false],
    ['an async reducer (per-key chains)', true],
  ])('100k distinct keys through process() on the in-memory fast path, %s: nothing kept per key but the state', async (_name, isAsync) => {
    const count = defineReducer({ module: 'test.mem', qualname: 'count', context: SRC, nullState: { n: 0 } }, (_e, s: { n: number }) => {
      const next: ReducerOutput = [{ n: s.n + 1 }, { n: s.n + 1 }];
      return isAsync ? Promise.resolve(next) : next;
    });
    const store = new InMemoryKVS();
    expect(typeof store.eagerTransaction).toBe('function'); // the fast path under test
    const pipeline = new ReducerPipeline({ modules: [count], store, concurrency: 64 });
    const gc = exposeGc();
    gc();
    const before = process.memoryUsage().heapUsed;
    let peakActiveKeys = 0;
    let results = 0;
    for (let i = 0; i < 100_000; i++) {
      const pending = pipeline.process(ev(SRC, `student-${i}`));
      peakActiveKeys = Math.max(peakActiveKeys, pipeline.activeKeys);
      results += (await pending).length;
    }
    expect(results).toBe(100_000);
    expect(pipeline.activeKeys).toBe(0);
    expect(peakActiveKeys).toBeLessThanOrEqual(isAsync ? 1 : 0);
    expect(await store.get('External,test.mem.count,STUDENT:student-99999')).toEqual({ n: 1 });
    expect((await store.keys()).length).toBe(200_000);
    // The states themselves are the store's (200k keys): drop them, then what is left is the pipeline's.
    await store.clear();
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(20 * 1024 * 1024);
  });
});

describe('in-memory fast path (one shared transaction callback, tasks as its argument)', () => {
  test('run() over a long synchronous source, every event applied at once, still lets the event loop turn', async () => {
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: new InMemoryKVS() });
    let turns = 0;
    let done = false;
    const tick = () => {
      if (done) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const results = await lastValueFrom(pipeline.run(interleaved(100, 100)).pipe(toArray()));
    done = true;
    expect(results).toHaveLength(10_000);
    // 10,000 events, and a turn of the event loop at least every 2,048 of them.
    expect(turns).toBeGreaterThanOrEqual(4);
  });

  test('skipped and written external states, several reducers per event, a key held by another transaction and an async reducer each write exactly their own states', async () => {
    const flip = defineReducer({ module: 'test.fast', qualname: 'flip', context: SRC, nullState: { n: 0 } }, (_e, s: { n: number }) => {
      const next = { n: s.n + 1 };
      return [next, next.n % 2 === 0 ? false : { odd: next.n }];
    });
    const other = defineReducer({ module: 'test.fast', qualname: 'other', context: SRC, nullState: 0 }, (_e, n: number) => [n + 1, n + 1]);
    const later = defineReducer({ module: 'test.fast', qualname: 'later', context: SRC, nullState: 0 }, async (_e, n: number) => [n + 10, { total: n + 10 }]);
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [flip, other, later], store });
    // Another writer holds s1's flip key: s1's flip transaction runs later, after s2's events.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held = store.transaction('Internal,test.fast.flip,STUDENT:s1', async () => {
      await gate;
      return { value: { n: 100 } };
    });
    const s1 = pipeline.process(ev(SRC, 's1'));
    const s2Results: ReducerResult[][] = [];
    for (let i = 0; i < 5; i++) s2Results.push(await pipeline.process(ev(SRC, 's2')));
    release();
    await held;
    const s1Results = await s1;

    expect(s1Results.map((r) => [r.reducerId, r.internal, r.external])).toEqual([
      ['test.fast.flip', { n: 101 }, { odd: 101 }],
      ['test.fast.other', 1, 1],
      ['test.fast.later', 10, { total: 10 }],
    ]);
    expect(s2Results.map((rs) => rs[0].external)).toEqual([{ odd: 1 }, false, { odd: 3 }, false, { odd: 5 }]);
    expect(await store.dump()).toEqual({
      'Internal,test.fast.flip,STUDENT:s1': { n: 101 },
      'External,test.fast.flip,STUDENT:s1': { odd: 101 },
      'Internal,test.fast.other,STUDENT:s1': 1,
      'External,test.fast.other,STUDENT:s1': 1,
      'Internal,test.fast.later,STUDENT:s1': 10,
      'External,test.fast.later,STUDENT:s1': { total: 10 },
      'Internal,test.fast.flip,STUDENT:s2': { n: 5 },
      'External,test.fast.flip,STUDENT:s2': { odd: 5 },
      'Internal,test.fast.other,STUDENT:s2': 5,
      'External,test.fast.other,STUDENT:s2': 5,
      'Internal,test.fast.later,STUDENT:s2': 50,
      'External,test.fast.later,STUDENT:s2': { total: 50 },
    });
    // Results are the reducer's own objects, not the store's: changing one changes nothing stored.
    (s2Results[4][0].internal as { n: number }).n = -1;
    expect(await store.get('Internal,test.fast.flip,STUDENT:s2')).toEqual({ n: 5 });
  });
});

describe('the alsoSet object a key reuses', () => {
  test('a store that writes alsoSet only after waiting writes every key its own latest external state', async () => {
    // A store that calls fn, waits, and only then reads result.alsoSet (as an I/O-bound store may).
    const inner = new InMemoryKVS();
    const seen: string[] = [];
    const late: KVStore = Object.assign(Object.create(null), {
      type: 'late',
      get: (k: string) => inner.get(k),
      set: (k: string, v: JsonValue) => inner.set(k, v),
      keys: (p?: string) => inner.keys(p),
      multiget: (ks: readonly string[]) => inner.multiget(ks),
      remove: (k: string) => inner.remove(k),
      clear: () => inner.clear(),
      close: () => inner.close(),
      update: () => Promise.reject(new Error('not used')),
      async transaction(key: string, fn: TransactionFn) {
        const result = await fn(await inner.get(key));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
        if (result.value !== undefined) await inner.set(key, result.value);
        for (const [k, v] of Object.entries(result.alsoSet ?? {})) {
          seen.push(k);
          await inner.set(k, v);
        }
        return result;
      },
    });
    const count = defineReducer({ module: 'test.late', qualname: 'count', context: SRC, nullState: { n: 0 } }, (_e, s: { n: number }) => {
      const next = { n: s.n + 1 };
      return [next, { total: next.n }];
    });
    const pipeline = new ReducerPipeline({ modules: [count], store: late, concurrency: 16 });
    const events = Array.from({ length: 300 }, (_, i) => ev(SRC, `s${i % 7}`));
    const results = await lastValueFrom(pipeline.run(events).pipe(toArray()));
    expect(results).toHaveLength(300);
    for (let i = 0; i < 7; i++) {
      const n = Math.ceil((300 - i) / 7);
      expect(await inner.get(`Internal,test.late.count,STUDENT:s${i}`)).toEqual({ n });
      expect(await inner.get(`External,test.late.count,STUDENT:s${i}`)).toEqual({ total: n });
    }
    // Each transaction wrote exactly one external key, its own.
    expect(seen).toHaveLength(300);
    expect(new Set(seen).size).toBe(7);
  });
});

describe('memory: skipped events', () => {
  test('100k events skipped for a missing second EventField keep nothing per event', async () => {
    const twoFields = defineReducer(
      { module: 'test.two', qualname: 'r', context: SRC, nullState: 0, scope: [new EventField('doc_id'), new EventField('tab_id')] },
      (_e, n: number) => [n + 1, false],
    );
    const pipeline = new ReducerPipeline({ modules: [twoFields], store: asStore(new NullStore()) });
    const gc = exposeGc();
    gc();
    const before = process.memoryUsage().heapUsed;
    let results = 0;
    function* events(): Generator<LOEvent> {
      for (let i = 0; i < 100_000; i++) yield ev(SRC, 's', { doc_id: `document-${i}` }); // no tab_id: skipped
    }
    await new Promise<void>((resolve, reject) => pipeline.run(events()).subscribe({ next: () => results++, error: reject, complete: resolve }));
    expect(results).toBe(0);
    gc();
    // 100k retained per-document entries would take several MB
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(3 * 1024 * 1024);
  });
});

describe('ReducerResult stream', () => {
  test('results carry fields and both keys', async () => {
    const rand = prng(5);
    const events = Array.from({ length: 30 }, () => ev(SRC, `s${Math.floor(rand() * 3)}`, { n: 1 }));
    const results: ReducerResult[] = await lastValueFrom(
      new ReducerPipeline({ modules: [Sequence], store: new InMemoryKVS() }).run(events).pipe(toArray()),
    );
    for (const r of results) {
      expect(r.internalKey).toBe(`Internal,test.seq.seq,STUDENT:${r.fields.STUDENT}`);
      expect(r.externalKey).toBe(`External,test.seq.seq,STUDENT:${r.fields.STUDENT}`);
    }
    const counts = new Map<string, number>();
    for (const r of results) counts.set(r.fields.STUDENT, Math.max(counts.get(r.fields.STUDENT) ?? 0, (r.external as { count: number }).count));
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(30);
    const unused: JsonValue = null;
    expect(unused).toBeNull();
  });
});
