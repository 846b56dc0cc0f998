import { lastValueFrom, Subject, toArray } from 'rxjs';
import { InMemoryKVS, StoreWriteError, type JsonValue, type KVStore } from '@learning-observer/kvs';
import {
  EventField,
  InvalidReducerResultError,
  KeyField,
  ReducerError,
  ReducerFrameworkError,
  ReducerPipeline,
  Scope,
  defineReducer,
  type LOEvent,
  type ReducerOutput,
  type ReducerResult,
} from '@learning-observer/reducers';
import { SlowStore, asStore, ev, prng } from './helpers';

const SRC = 'org.test.batched';

/** Reducers covering the cases batching must keep: shared state objects, `false`, async, failures, two-field keys. */
function modules() {
  return [
    // Mutates its input in place and returns it as both states (batching must hand each call a copy).
    defineReducer({ module: 'b', qualname: 'history', context: SRC, nullState: { seen: [] } }, (event: LOEvent, state: { seen: number[] }): ReducerOutput => {
      state.seen.push(event.client.n as number);
      return [state, state];
    }),
    // Per student and document; writes the external state only every third event.
    defineReducer(
      { module: 'b', qualname: 'per_doc', context: SRC, nullState: { count: 0 }, scope: new Scope([KeyField.STUDENT, new EventField('doc')]) },
      (_e: LOEvent, state: { count: number }): ReducerOutput => {
        const next = { count: state.count + 1 };
        return [next, next.count % 3 === 0 ? { every3: next.count } : false];
      },
    ),
    // Async, and skips events with an odd n entirely.
    defineReducer({ module: 'b', qualname: 'async_even', context: SRC, nullState: null }, async (event: LOEvent, state: { sum: number } | null): Promise<ReducerOutput> => {
      const n = event.client.n as number;
      if (n % 2 === 1) return [false, false];
      await Promise.resolve();
      const next = { sum: (state?.sum ?? 0) + n };
      return [next, next];
    }),
    // Throws on some events, and returns a non-JSON state on others: those events change nothing.
    defineReducer({ module: 'b', qualname: 'flaky', context: SRC, nullState: { ok: 0 } }, (event: LOEvent, state: { ok: number }): ReducerOutput => {
      const n = event.client.n as number;
      if (n % 7 === 3) throw new Error(`flaky failure on ${n}`);
      if (n % 11 === 5) return [{ ok: NaN }, false];
      const next = { ok: state.ok + 1 };
      return [next, next];
    }),
  ];
}

/** A seeded log: `count` events from `students` students over three documents, some without a doc. */
function generatedLog(count: number, students: number, seed: number): LOEvent[] {
  const random = prng(seed);
  const events: LOEvent[] = [];
  for (let n = 0; n < count; n++) {
    const student = `s${Math.floor(random() * students)}`;
    const r = random();
    events.push(ev(SRC, student, r < 0.1 ? { n } : { n, doc: `D${Math.floor(r * 3)}` }));
  }
  return events;
}

async function replay(events: LOEvent[], options: { batchSize?: number; store?: KVStore } = {}) {
  const store = options.store ?? new InMemoryKVS();
  const pipeline = new ReducerPipeline({ modules: modules(), store, batchSize: options.batchSize });
  const errors: ReducerError[] = [];
  pipeline.errors$.subscribe((e) => errors.push(e));
  const results = await lastValueFrom(pipeline.run(events).pipe(toArray()));
  return { store, results, errors, dump: await store.dump(), pipeline };
}

/** Results grouped by internal key, in emission order (the order that must hold per key). */
function perKey(results: ReducerResult[]): Record<string, JsonValue[]> {
  const out: Record<string, JsonValue[]> = {};
  for (const r of results) (out[r.internalKey] ??= []).push([r.internal, r.external] as JsonValue);
  return out;
}

describe('batched mode', () => {
  test('batchSize must be a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
      expect(() => new ReducerPipeline({ modules: modules(), store: new InMemoryKVS(), batchSize: bad as number })).toThrow(ReducerFrameworkError);
    }
    expect(() => new ReducerPipeline({ modules: modules(), store: new InMemoryKVS(), batchSize: 0 })).toThrow('batchSize must be a positive integer');
    expect(new ReducerPipeline({ modules: modules(), store: new InMemoryKVS(), batchSize: 64 }).batchSize).toBe(64);
    expect(new ReducerPipeline({ modules: modules(), store: new InMemoryKVS() }).batchSize).toBeUndefined();
  });

  test('gives the same final state, the same results per key and the same errors as per-event mode', async () => {
    const events = generatedLog(3000, 40, 11);
    const exact = await replay(events);
    expect(Object.keys(exact.dump).length).toBeGreaterThan(100);
    expect(exact.errors.length).toBeGreaterThan(100);
    for (const batchSize of [1, 7, 256, 10_000]) {
      const batched = await replay(events, { batchSize });
      expect(batched.dump).toEqual(exact.dump);
      expect(batched.results).toHaveLength(exact.results.length);
      expect(perKey(batched.results)).toEqual(perKey(exact.results));
      expect(batched.errors.map((e) => [e.internalKey, (e.cause as Error).message]).sort()).toEqual(
        exact.errors.map((e) => [e.internalKey, (e.cause as Error).message]).sort(),
      );
    }
  });

  test('a batch writes each changed key once, with one setMany per store', async () => {
    const inner = new InMemoryKVS();
    const calls: number[] = [];
    const counting = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'setMany') return (entries: [string, JsonValue][]) => (calls.push([...entries].length), target.setMany(entries));
        if (prop === 'transaction' || prop === 'eagerTransaction' || prop === 'set') {
          return () => {
            throw new Error(`batched mode must not call ${String(prop)}`);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const counter = defineReducer({ module: 'b', qualname: 'count', context: SRC, nullState: { n: 0 } }, (_e: LOEvent, s: { n: number }): ReducerOutput => {
      const next = { n: s.n + 1 };
      return [next, next];
    });
    const pipeline = new ReducerPipeline({ modules: [counter], store: counting as unknown as KVStore, batchSize: 100 });
    const events = Array.from({ length: 250 }, (_, i) => ev(SRC, `s${i % 5}`));
    const results = await lastValueFrom(pipeline.run(events).pipe(toArray()));
    expect(results).toHaveLength(250);
    expect(calls).toEqual([10, 10, 10]); // 5 students x (internal + external), per batch of 100 / 100 / 50 events
    expect(await inner.get('External,b.count,STUDENT:s0')).toEqual({ n: 50 });
  });

  test('works on an async store (no setMany: set per key) and keeps per-key order across batches', async () => {
    const events = generatedLog(600, 10, 5);
    const exact = await replay(events);
    const slow = new SlowStore(3, 2);
    const batched = await replay(events, { batchSize: 50, store: asStore(slow) });
    expect(await slow.inner.dump()).toEqual(exact.dump);
    expect(perKey(batched.results)).toEqual(perKey(exact.results));
  });

  test('operator() and process() batch too, with the same outcome', async () => {
    const events = generatedLog(500, 8, 9);
    const exact = await replay(events);

    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: modules(), store, batchSize: 64 });
    pipeline.errors$.subscribe(() => undefined);
    const subject = new Subject<LOEvent>();
    const collected = lastValueFrom(subject.pipe(pipeline.operator(), toArray()));
    for (const [i, e] of events.entries()) {
      subject.next(e);
      if (i % 100 === 99) await new Promise((r) => setImmediate(r)); // partial batches get flushed
    }
    subject.complete();
    const results = await collected;
    expect(await store.dump()).toEqual(exact.dump);
    expect(perKey(results)).toEqual(perKey(exact.results));

    const one = new InMemoryKVS();
    const single = new ReducerPipeline({ modules: modules(), store: one, batchSize: 10 });
    single.errors$.subscribe(() => undefined);
    const viaProcess: ReducerResult[] = [];
    for (const e of events) viaProcess.push(...(await single.process(e)));
    expect(await one.dump()).toEqual(exact.dump);
    expect(perKey(viaProcess)).toEqual(perKey(exact.results));
    await single.idle();
    expect(single.activeKeys).toBe(0);
  });

  test('a reducer error fails only its event; onError "stop" stops after the batch, emitting the results before the error', async () => {
    const events = [ev(SRC, 'a', { n: 0 }), ev(SRC, 'a', { n: 3 }), ev(SRC, 'a', { n: 4 })];
    const flaky = modules()[3];
    const direct = new ReducerPipeline({ modules: [flaky], store: new InMemoryKVS(), batchSize: 10, onError: 'stop' });
    direct.errors$.subscribe(() => undefined);
    const emitted: ReducerResult[] = [];
    const failure = await new Promise<unknown>((resolve) =>
      direct.run(events).subscribe({ next: (r) => emitted.push(r), error: resolve, complete: () => resolve('completed') }),
    );
    expect(failure).toBeInstanceOf(ReducerError);
    expect(((failure as ReducerError).cause as Error).message).toBe('flaky failure on 3');
    expect(emitted.map((r) => r.internal)).toEqual([{ ok: 1 }]);
  });

  test('a non-JSON state is an InvalidReducerResultError in both modes', async () => {
    const bad = defineReducer({ module: 'b', qualname: 'bad', context: SRC, nullState: null }, (): ReducerOutput => [{ when: new Date() } as unknown as JsonValue, false]);
    for (const batchSize of [undefined, 4]) {
      const store = new InMemoryKVS();
      const pipeline = new ReducerPipeline({ modules: [bad], store, batchSize });
      const errors: ReducerError[] = [];
      pipeline.errors$.subscribe((e) => errors.push(e));
      expect(await pipeline.process(ev(SRC, 's'))).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0].cause).toBeInstanceOf(InvalidReducerResultError);
      expect((errors[0].cause as Error).message).toContain('returned an internal state that is not JSON: the value at $.when is a Date instance');
      expect(await store.keys()).toEqual([]);
    }
  });

  test('a failed batch write fails every task of the batch on that store', async () => {
    class FailingWrites extends InMemoryKVS {
      override async setMany(): Promise<void> {
        throw new StoreWriteError('disk full (test)');
      }
    }
    const store = new FailingWrites();
    const pipeline = new ReducerPipeline({ modules: modules().slice(0, 1), store, batchSize: 10 });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    const results = await lastValueFrom(pipeline.run(generatedLog(25, 3, 1)).pipe(toArray()));
    expect(results).toEqual([]);
    expect(errors).toHaveLength(25);
    expect(errors.every((e) => e.cause instanceof StoreWriteError)).toBe(true);
    expect(await store.keys()).toEqual([]);
  });
});

describe('per-event mode on an in-memory store (synchronous fast path)', () => {
  test('results share frozen key fields, and states written are copies', async () => {
    const store = new InMemoryKVS();
    const history = modules()[0];
    const pipeline = new ReducerPipeline({ modules: [history], store });
    const [first] = await pipeline.process(ev(SRC, 's1', { n: 1 }));
    const [second] = await pipeline.process(ev(SRC, 's1', { n: 2 }));
    expect(first.fields).toBe(second.fields);
    expect(Object.isFrozen(first.fields)).toBe(true);
    expect(first.internal).toEqual({ seen: [1] }); // its own object, not changed by the second event
    (second.internal as { seen: number[] }).seen.push(99);
    expect(await store.get('Internal,b.history,STUDENT:s1')).toEqual({ seen: [1, 2] });
  });

  test('a reducer returning a Promise keeps the key locked until it settles', async () => {
    const store = new InMemoryKVS();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slowFirst = defineReducer({ module: 'b', qualname: 'slow_first', context: SRC, nullState: { n: [] } }, (event: LOEvent, s: { n: number[] }): ReducerOutput | Promise<ReducerOutput> => {
      const next = { n: [...s.n, event.client.n as number] };
      return event.client.n === 0 ? gate.then(() => [next, next] as ReducerOutput) : [next, next];
    });
    const pipeline = new ReducerPipeline({ modules: [slowFirst], store });
    const a = pipeline.process(ev(SRC, 's', { n: 0 }));
    const b = pipeline.process(ev(SRC, 's', { n: 1 }));
    expect(pipeline.activeKeys).toBe(1);
    release();
    await Promise.all([a, b]);
    expect(await store.get('Internal,b.slow_first,STUDENT:s')).toEqual({ n: [0, 1] });
  });
});

describe('batched mode: a failed or unwritten call leaves no trace in the state', () => {
  // Mutates the state it is given in place, then throws (n % 3 === 1) or declines to write the
  // internal state (n % 3 === 2). In per-event mode each call gets a fresh copy from the store, so
  // neither leaves a trace; batching must not let those mutations reach the next event or the store.
  const mutating = () =>
    defineReducer({ module: 'b', qualname: 'mutating', context: SRC, nullState: { seen: [] } }, (event: LOEvent, state: { seen: number[] }): ReducerOutput => {
      const n = event.client.n as number;
      state.seen.push(n);
      if (n % 3 === 1) throw new Error(`fails after mutating on ${n}`);
      if (n % 3 === 2) return [false, { peek: state.seen.length }];
      return [state, { kept: state.seen.length }];
    });

  test.each([1, 2, 5, 7, 64])('batchSize %i gives the per-event final state and results', async (batchSize) => {
    // The states start in the store, so batches read them with multiget (not from nullState).
    const seed = async () => {
      const store = new InMemoryKVS();
      for (let s = 0; s < 3; s++) await store.set(`Internal,b.mutating,STUDENT:s${s}`, { seen: [-1] });
      return store;
    };
    const events = Array.from({ length: 60 }, (_, n) => ev(SRC, `s${n % 3}`, { n: 1 + Math.floor(n / 3) }));
    const run = async (size: number | undefined) => {
      const store = await seed();
      const pipeline = new ReducerPipeline({ modules: [mutating()], store, batchSize: size });
      const errors: ReducerError[] = [];
      pipeline.errors$.subscribe((e) => errors.push(e));
      const results = await lastValueFrom(pipeline.run(events).pipe(toArray()));
      return { dump: await store.dump(), results: perKey(results), errors: errors.map((e) => (e.cause as Error).message).sort() };
    };
    const exact = await run(undefined);
    expect(exact.dump['Internal,b.mutating,STUDENT:s0']).toEqual({ seen: [-1, 3, 6, 9, 12, 15, 18] });
    expect(await run(batchSize)).toEqual(exact);
  });
});
