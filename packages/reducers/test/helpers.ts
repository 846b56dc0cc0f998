import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InMemoryKVS, type JsonValue, type KVStore, type TransactionFn, type TransactionFnWithArg, type TransactionResult } from '@learning-observer/kvs';
import { reducerModule, studentEventReducer, type LOEvent, type ReducerOutput } from '@learning-observer/reducers';

import { prng } from '@learning-observer/kvs-test-suite';

/** A seeded PRNG (mulberry32), so "random" delays are the same on every run. */
export { prng };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * An InMemoryKVS behind random delays. The delay comes BEFORE the inner store sees the call, so two
 * transactions on one key started in order A, B can reach the store in order B, A: only the
 * pipeline's own per-key ordering keeps them in order. Counts concurrent transactions.
 */
export class SlowStore {
  readonly inner = new InMemoryKVS();
  readonly type = 'slow';
  active = 0;
  maxActive = 0;
  transactions = 0;
  private readonly random: () => number;

  constructor(
    seed = 1,
    private readonly maxDelayMs = 4,
  ) {
    this.random = prng(seed);
  }

  private delay(): Promise<void> {
    return sleep(Math.floor(this.random() * (this.maxDelayMs + 1)));
  }

  async transaction(key: string, fn: TransactionFn): Promise<TransactionResult> {
    this.active++;
    this.transactions++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.delay();
      return await this.inner.transaction(key, fn);
    } finally {
      this.active--;
    }
  }

  get(key: string) { return this.inner.get(key); }
  set(key: string, value: JsonValue) { return this.inner.set(key, value); }
  keys(prefix?: string) { return this.inner.keys(prefix); }
  multiget(keys: readonly string[]) { return this.inner.multiget(keys); }
  remove(key: string) { return this.inner.remove(key); }
  clear() { return this.inner.clear(); }
  dump() { return this.inner.dump(); }
  load(f: string) { return this.inner.load(f); }
  update(key: string, fn: (v: JsonValue | undefined) => JsonValue) { return this.inner.update(key, fn); }
  close() { return this.inner.close(); }
  [key: string]: unknown;
}

/**
 * A {@link SlowStore} that also offers `transactionWithCallbacks`, as the Redis stores do, so the
 * pipeline takes its callback path; counts the calls that came that way.
 */
export class SlowCallbackStore extends SlowStore {
  callbackTransactions = 0;

  transactionWithCallbacks<A>(
    key: string,
    fn: TransactionFnWithArg<A>,
    arg: A,
    onResult: (result: TransactionResult, arg: A) => void,
    onError: (err: unknown, arg: A) => void,
  ): void {
    this.callbackTransactions++;
    this.transaction(key, (current) => fn(current, arg)).then(
      (result) => onResult(result, arg),
      (err) => onError(err, arg),
    );
  }
}

/** A store that keeps nothing: every transaction sees a missing key. For memory tests. */
export class NullStore {
  readonly type = 'null';
  transactions = 0;
  async transaction(_key: string, fn: TransactionFn): Promise<TransactionResult> {
    this.transactions++;
    return fn(undefined);
  }
  async get() { return undefined; }
  async set() {}
  async keys() { return []; }
  async multiget(keys: readonly string[]) { return keys.map(() => undefined); }
  async remove() {}
  async clear() {}
  async dump() { return {}; }
  async load() {}
  async update(_k: string, fn: (v: JsonValue | undefined) => JsonValue) { return fn(undefined); }
  async close() {}
  [key: string]: unknown;
}

export const asStore = (s: object): KVStore => s as unknown as KVStore;

/** The event source {@link Sequence} listens to. */
export const SRC = 'org.test.source';

/**
 * A per-student reducer module (`test.seq.seq`) that records every `client.n` it sees, in order:
 * internal `{ seen: [...] }`, external `{ last, count }`. Ordering tests read `seen`.
 */
@reducerModule('test.seq', { context: SRC })
export class Sequence {
  @studentEventReducer({ nullState: { seen: [] } })
  seq(event: LOEvent, state: { seen: number[] }): ReducerOutput {
    state.seen.push(event.client.n as number);
    return [state, { last: event.client.n as number, count: state.seen.length }];
  }
}

/** An event from `student` with `source` and client fields. */
export function ev(source: string, student: string | undefined, client: Record<string, unknown> = {}): LOEvent {
  return {
    client: { source, event: 'test', ...client },
    ...(student === undefined ? {} : { metadata: { auth: { safe_user_id: student } } }),
  };
}

/**
 * A real garbage collection, also without `node --expose-gc` (Jest runs without it): the flag is
 * set at run time and `gc` taken from a fresh V8 context, which then has it.
 */
export function exposeGc(): () => void {
  const existing = (global as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
