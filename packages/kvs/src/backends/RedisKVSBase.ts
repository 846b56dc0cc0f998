import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BaseKVS } from '../BaseKVS';
import { CorruptValueError, KVSError, StoreUnavailableError, UnscopedClearError } from '../errors';
import { KeyedQueue } from '../fs/KeyedQueue';
import { assertJsonValue, assertKey } from '../json';
import { RedisConnection, type RedisConnectionSettings } from '../redisConnection';
import type { ClearOptions, JsonValue, TransactionFn, TransactionFnWithArg, TransactionResult } from '../types';
import {
  COMPARE_AND_SET_MANY,
  COMPARE_AND_SET_MANY_SHA,
  compareAndSetCalls,
  PendingCompareAndSet,
  type CompareAndSetCall,
} from './redisCompareAndSet';

/** Options shared by both Redis backends. */
export interface RedisKVSOptions {
  /**
   * Namespace of this store: every key is stored in Redis as `prefix + key`, and `keys()`,
   * `clear()` and `dump()` only see keys starting with it. Without a prefix (the default, which
   * keeps keys byte-identical to the Python original's) the store sees the whole db, and
   * `clear()` refuses to run unless called as `clear({ wholeDatabase: true })`.
   */
  prefix?: string;
  /** Where Redis is (default `localhost:6379`, db 0). */
  connection?: RedisConnectionSettings;
  /** Attempts `update`/`transaction` makes before throwing `ConflictError` (default 50). */
  maxRetries?: number;
}

/** Keys per MGET / UNLINK round trip. */
const BATCH = 1000;
/** Most characters / keys of raw values a store remembers to skip the GET of a transaction. */
const LAST_SEEN_CHARS = 16 * 1024 * 1024;
const LAST_SEEN_KEYS = 100_000;

/** Escapes Redis glob metacharacters (`* ? [ ] \`) so that `text` matches itself only. */
export function escapeRedisGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * SETs KEYS[i] to ARGV[i + 1] with a TTL of ARGV[1] seconds, for every i. A failing SET can only
 * be the first one (Redis refuses a script's first write, not later ones, when it is out of
 * memory), so either every key is written or none.
 */
const SET_MANY_WITH_TTL = `
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ARGV[1]) end
return #KEYS
`;
const SET_MANY_WITH_TTL_SHA = createHash('sha1').update(SET_MANY_WITH_TTL).digest('hex');

/** `[a[0], b[0], a[1], b[1], ...]` (the arguments of MSET). */
function interleave(a: readonly string[], b: readonly string[]): string[] {
  const out = new Array<string>(a.length * 2);
  for (let i = 0; i < a.length; i++) {
    out[2 * i] = a[i];
    out[2 * i + 1] = b[i];
  }
  return out;
}

/** What a transaction's result writes (see `prepareWrite`). */
interface PreparedWrite {
  keys: string[];
  values: (string | undefined)[];
  /** The text of the result's `value` ('' without one). */
  text: string;
  /** The `alsoSet` keys (store keys, without the prefix), when there are any. */
  others: string[] | undefined;
}

/** How a transaction is settled: `transaction` passes its Promise's resolve and reject. */
type OnResult<A> = (result: TransactionResult, arg: A) => void;
type OnError<A> = (err: unknown, arg: A) => void;

/**
 * The compare-and-set of a transaction on the fast path (see `RedisKVSBase.begin`), carrying what
 * settles the transaction: one object per update instead of a compare-and-set item, two reply
 * closures and their context.
 */
class FastCommit<A> extends PendingCompareAndSet {
  declare readonly expected: string;

  constructor(
    /** The store (without its Proxy). */
    readonly store: RedisKVSBase,
    key: string,
    cached: string,
    readonly fn: TransactionFnWithArg<A>,
    readonly arg: A,
    readonly result: TransactionResult,
    readonly write: PreparedWrite,
    readonly onResult: OnResult<A>,
    readonly onError: OnError<A>,
    onWritten: (written: 0 | 1, item: PendingCompareAndSet) => void,
    onFailed: (err: unknown, item: PendingCompareAndSet) => void,
  ) {
    super(key, write.keys, cached, result.value !== undefined, write.values, onWritten, onFailed);
  }
}

/**
 * Calls a caller's callback; every way a transaction settles goes through it. The reply handlers
 * settle several transactions in a row: a callback that throws (a caller's bug; the contract
 * forbids it) must not keep the others from being settled, so its error is thrown again in a
 * microtask of its own, the same way on every path.
 */
function callSafely<T, A>(callback: (value: T, arg: A) => void, value: T, arg: A): void {
  try {
    callback(value, arg);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

const isThenable = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Shared implementation of `EphemeralRedisKVS` and `PersistentRedisKVS` on one
 * {@link RedisConnection} owned by the store:
 *
 * - values are stored as JSON strings under `prefix + key`;
 * - `keys()` walks SCAN with an escaped MATCH pattern (never KEYS); `multiget` uses MGET in
 *   batches of 1000; `clear()` SCANs this store's keys and UNLINKs them (never FLUSHDB); without
 *   a prefix it throws `UnscopedClearError` unless given `{ wholeDatabase: true }`;
 * - `transaction`/`update` read with GET, run the callback, then write with a Lua script that
 *   compares the current raw value with the one read and only then sets the key and every
 *   `alsoSet` key, atomically. On a mismatch it retries after a short random pause, up to
 *   `maxRetries` attempts, then throws `ConflictError`. Updates of one key from the same store
 *   are also queued in-process, so they do not conflict with each other. The compare-and-sets
 *   issued in one turn of the event loop travel together as one script call (up to 512 per call),
 *   which applies them in order, each on its own: one whose key changed is skipped and retried
 *   without holding back the others.
 *
 * Every failure is a typed error naming `host:port/db` (see `RedisConnection`).
 *
 * A subclass constructor runs on the store as callers see it (the Proxy of `BaseKVS`): it may set
 * fields, but must read only public members there. To act on each new connection, pass
 * `onConnect` to this constructor.
 *
 * @example
 * class MyRedisKVS extends RedisKVSBase {
 *   readonly type = 'my_redis';
 *   protected readonly expirySeconds = undefined;
 * }
 */
export abstract class RedisKVSBase extends BaseKVS {
  static override readonly publicMembers: readonly string[] = [...BaseKVS.publicMembers, 'prefix', 'target'];
  /** Namespace prepended to every key (empty: none; `clear()` then needs `{ wholeDatabase: true }`). */
  readonly prefix: string;
  /** `host:port/db` of the server, for messages. */
  readonly target: string;
  /** TTL every write sets, or `undefined` for none. */
  protected abstract readonly expirySeconds: number | undefined;
  /**
   * 256 transactions in flight: the compare-and-sets of one event-loop turn go as one script call,
   * so more in flight means fuller calls (the counter on a local server: 49k events/s at 32,
   * 59k-67k at 256-512; all writing-observer reducers: 5.2k at 32, 8.7k at 256).
   */
  get preferredConcurrency(): number {
    return 256;
  }
  protected readonly connection: RedisConnection;
  /** Transactions of one key from this store run one after the other, so they do not race. */
  private readonly keyQueues = new KeyedQueue();
  /**
   * The raw text this store last wrote or read per key (the store's key, without the prefix;
   * bounded, oldest dropped first). A transaction starts its compare-and-set from it instead of a
   * GET; when another writer changed the key meanwhile the compare fails and the transaction reads
   * the key and tries again, so the cache only saves round trips, it never decides a value.
   */
  private readonly lastSeen = new Map<string, string>();
  private lastSeenChars = 0;
  /** Compare-and-sets waiting for the next pipeline flush. */
  private casBatch: PendingCompareAndSet[] | undefined;

  /**
   * @param onConnect runs on every new connection before its first command (errors are ignored);
   *   gets the client and `host:port/db`.
   */
  constructor(options: RedisKVSOptions = {}, onConnect?: (client: Redis, target: string) => Promise<void>) {
    super();
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw new KVSError(`Redis store prefix must be a string; got ${typeof options.prefix}.`);
    }
    if (options.maxRetries !== undefined && (!Number.isInteger(options.maxRetries) || options.maxRetries < 1)) {
      throw new KVSError(`maxRetries must be a positive integer; got ${String(options.maxRetries)}.`);
    }
    this.prefix = options.prefix ?? '';
    if (options.maxRetries !== undefined) this.maxRetries = options.maxRetries;
    // (Locals, not `this.connection`: reads in a constructor go through the Proxy.)
    const connection = new RedisConnection(options.connection ?? {});
    const target = connection.target;
    this.connection = connection;
    this.target = target;
    if (onConnect) connection.onConnect((client) => onConnect(client, target));
  }

  async get(key: string): Promise<JsonValue | undefined> {
    this.checkOpen();
    assertKey(key);
    const raw = await this.connection.run(`GET ${JSON.stringify(key)}`, (c) => c.get(this.prefix + key));
    return this.decode(key, raw);
  }

  async set(key: string, value: JsonValue): Promise<void> {
    this.checkWrite(key, value);
    const text = JSON.stringify(value);
    const ttl = this.expirySeconds;
    this.forget(key);
    await this.connection.run(`SET ${JSON.stringify(key)}`, (c) =>
      ttl !== undefined ? c.set(this.prefix + key, text, 'EX', ttl) : c.set(this.prefix + key, text),
    );
  }

  /**
   * Writes every entry in one atomic step: MSET, or, when the store has a TTL, one script that
   * SETs each key with `EX` (one command, where MULTI/EXEC would need one SET per key). Every entry
   * is validated before anything is sent.
   */
  override async setMany(entries: Iterable<readonly [string, JsonValue]>): Promise<void> {
    const list = this.checkEntries(entries);
    if (list.length === 0) return;
    const ttl = this.expirySeconds;
    const keys: string[] = new Array<string>(list.length);
    const texts: string[] = new Array<string>(list.length);
    for (let i = 0; i < list.length; i++) {
      keys[i] = this.prefix + list[i][0];
      texts[i] = JSON.stringify(list[i][1]);
    }
    await this.connection.run(`MSET (${list.length} keys)`, async (c) => {
      if (ttl === undefined) await c.mset(interleave(keys, texts));
      else await this.evalScript(c, SET_MANY_WITH_TTL, SET_MANY_WITH_TTL_SHA, keys.length, keys.concat(String(ttl), texts));
    });
    for (let i = 0; i < list.length; i++) this.rememberWritten(list[i][0], texts[i]);
  }

  async keys(prefix = ''): Promise<string[]> {
    this.checkOpen();
    if (typeof prefix !== 'string') throw new KVSError(`keys(prefix) needs a string prefix; got ${typeof prefix}.`);
    const found = await this.scan(this.prefix + prefix);
    return found.map((k) => k.slice(this.prefix.length)).sort();
  }

  async multiget(keys: readonly string[]): Promise<(JsonValue | undefined)[]> {
    this.checkOpen();
    keys.forEach((k) => assertKey(k));
    const out: (JsonValue | undefined)[] = [];
    for (let i = 0; i < keys.length; i += BATCH) {
      const chunk = keys.slice(i, i + BATCH);
      const raws = await this.connection.run(`MGET (${chunk.length} keys)`, (c) => c.mget(chunk.map((k) => this.prefix + k)));
      chunk.forEach((k, j) => out.push(this.decode(k, raws[j] ?? null)));
    }
    return out;
  }

  async remove(key: string): Promise<void> {
    this.checkOpen();
    assertKey(key);
    this.forget(key);
    await this.connection.run(`DEL ${JSON.stringify(key)}`, (c) => c.del(this.prefix + key));
  }

  /**
   * Removes this store's keys (those starting with `prefix`) with SCAN + UNLINK; other stores'
   * keys in the same db survive. Without a prefix this would remove every key of the db, other
   * programs' included, so it throws `UnscopedClearError` (removing nothing) unless called as
   * `clear({ wholeDatabase: true })`. With a prefix, `wholeDatabase` changes nothing.
   *
   * @example
   * await new PersistentRedisKVS({ prefix: 'lo:' }).clear();           // removes lo:* only
   * await new PersistentRedisKVS().clear({ wholeDatabase: true });     // empties db 0 (SCAN + UNLINK)
   */
  async clear(options: ClearOptions = {}): Promise<void> {
    this.checkOpen();
    if (this.prefix === '' && options?.wholeDatabase !== true) throw new UnscopedClearError(this.type, this.target);
    this.lastSeen.clear();
    this.lastSeenChars = 0;
    const found = await this.scan(this.prefix);
    for (let i = 0; i < found.length; i += BATCH) {
      const chunk = found.slice(i, i + BATCH);
      await this.connection.run(`UNLINK (${chunk.length} keys)`, (c) => c.unlink(...chunk));
    }
  }

  transaction(key: string, fn: TransactionFn): Promise<TransactionResult> {
    const self = this.unwrapped; // hot path: skip the proxy's get trap for every member access
    // One Promise, settled from the callbacks (its own checks reject it, never throw).
    return new Promise<TransactionResult>((resolve, reject) => self.transactionWithCallbacks(key, fn, undefined, resolve, reject));
  }

  /**
   * `transaction` with callbacks instead of a Promise (see `KVStore.transactionWithCallbacks`):
   * the reducer pipeline's path, with no Promise or closure of its own per update when the key
   * is free and its text remembered.
   *
   * @example
   * const bump = (n: JsonValue | undefined, by: number) => ({ value: ((n as number | undefined) ?? 0) + by });
   * store.transactionWithCallbacks('n', bump, 5, (result) => console.log(result.value), console.error);
   */
  transactionWithCallbacks<A>(key: string, fn: TransactionFnWithArg<A>, arg: A, onResult: OnResult<A>, onError: OnError<A>): void {
    const self = this.unwrapped;
    try {
      self.checkOpen();
      assertKey(key);
    } catch (err) {
      queueMicrotask(() => onError(err, arg));
      return;
    }
    if (self.keyQueues.tryEnter(key)) self.begin(key, fn, arg, onResult, onError);
    else self.keyQueues.enter(key, () => self.begin(key, fn, arg, onResult, onError));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }

  /**
   * Runs a transaction that holds its key in `keyQueues`; settles it with `onResult`/`onError`
   * after freeing the key for the next transaction. When this store remembers the key's text and
   * the callback is synchronous, everything happens in callbacks: the callback now, the
   * compare-and-set queued for this turn's script call, and the outcome on its reply (see
   * {@link committed}). Anything else (no remembered text, an async callback, a stale text) goes to
   * {@link compareAndSetLoop}.
   */
  private begin<A>(key: string, fn: TransactionFnWithArg<A>, arg: A, onResult: OnResult<A>, onError: OnError<A>): void {
    const cached = this.lastSeen.get(key);
    if (cached === undefined) return this.settleWith(key, this.compareAndSetLoop(key, fn, arg), arg, onResult, onError);
    let result: TransactionResult;
    let write: PreparedWrite | undefined;
    try {
      this.checkOpen(); // it may have been closed while this transaction waited for its key
      const returned = fn(this.decode(key, cached), arg);
      if (isThenable(returned)) {
        return this.settleWith(key, this.compareAndSetLoop(key, fn, arg, { raw: cached, returned }), arg, onResult, onError);
      }
      result = returned;
      write = this.prepareWrite(key, result);
    } catch (err) {
      return this.settleNow(key, onError, err, arg);
    }
    if (write === undefined) return this.settleNow(key, onResult, result, arg);
    this.queueItem(new FastCommit(this, key, cached, fn, arg, result, write, onResult, onError, RedisKVSBase.committed, RedisKVSBase.failed));
  }

  /** The reply to a {@link FastCommit}: settles its transaction, or runs it again from a fresh read. */
  private static committed<A>(written: 0 | 1, item: PendingCompareAndSet): void {
    const commit = item as FastCommit<A>;
    const self = commit.store;
    const key = commit.key;
    if (written === 1) {
      self.afterWrite(key, commit.expected, commit.result, commit.write);
      self.keyQueues.leave(key);
      return callSafely(commit.onResult, commit.result, commit.arg);
    }
    // The remembered text was stale: read the key and run the callback again (this attempt does
    // not count against maxRetries, as in compareAndSetLoop).
    self.forget(key);
    self.settleWith(key, self.compareAndSetLoop(key, commit.fn, commit.arg), commit.arg, commit.onResult, commit.onError);
  }

  /** A {@link FastCommit} whose command failed: frees its key and fails its transaction. */
  private static failed<A>(err: unknown, item: PendingCompareAndSet): void {
    const commit = item as FastCommit<A>;
    commit.store.forget(commit.key);
    commit.store.keyQueues.leave(commit.key);
    callSafely(commit.onError, err, commit.arg);
  }

  /** Settles a transaction with the outcome of `run`, after freeing its key. */
  private settleWith<A>(key: string, run: Promise<TransactionResult>, arg: A, onResult: OnResult<A>, onError: OnError<A>): void {
    run.then(
      (result) => {
        this.keyQueues.leave(key);
        callSafely(onResult, result, arg);
      },
      (err) => {
        this.keyQueues.leave(key);
        callSafely(onError, err, arg);
      },
    );
  }

  /**
   * Settles a transaction whose outcome was known without Redis, in a microtask: its key is freed
   * there (so that a long queue of such transactions on one key does not grow the stack), then the
   * outcome reported (never before `transactionWithCallbacks` returned).
   */
  private settleNow<T, A>(key: string, callback: (value: T, arg: A) => void, value: T, arg: A): void {
    queueMicrotask(() => {
      this.keyQueues.leave(key);
      callSafely(callback, value, arg);
    });
  }

  /**
   * Reads (or takes the remembered text), runs `fn`, and compare-and-sets, up to `maxRetries`
   * times. `first`: an attempt {@link begin} began, whose callback returned a Promise.
   */
  private async compareAndSetLoop<A>(
    key: string,
    fn: TransactionFnWithArg<A>,
    arg: A,
    first?: { raw: string; returned: PromiseLike<TransactionResult> },
  ): Promise<TransactionResult> {
    const redisKey = this.prefix + key;
    for (let attempt = 1; attempt <= this.maxRetries; attempt++) {
      this.checkOpen();
      // First attempt: start from the text this store last wrote, when it has it (no GET).
      const cached = attempt === 1 ? (first?.raw ?? this.lastSeen.get(key)) : undefined;
      const raw = cached ?? (await this.connection.run(`GET ${JSON.stringify(key)}`, (c) => c.get(redisKey)));
      const returned = attempt === 1 && first !== undefined ? first.returned : fn(this.decode(key, raw), arg);
      const result = isThenable(returned) ? await returned : returned;
      const write = this.prepareWrite(key, result);
      if (write === undefined) return result;
      let written: number;
      try {
        written = await this.queueCompareAndSet(key, write.keys, raw, result.value !== undefined, write.values);
      } catch (err) {
        this.forget(key);
        throw err;
      }
      if (written === 1) {
        this.afterWrite(key, raw, result, write);
        return result;
      }
      this.forget(key);
      if (cached !== undefined) {
        // The cached text was stale: read the key and retry at once. This attempt does not count
        // (the cache entry is gone, so the next round does a GET), so maxRetries 1 still works.
        attempt--;
        first = undefined;
        continue;
      }
      if (attempt < this.maxRetries) await sleep(Math.random() * Math.min(2 ** attempt, 50));
    }
    throw this.conflict(key, this.maxRetries);
  }

  /**
   * Checks a transaction's result (what `checkTransactionResult` checks, with the same errors) and
   * returns the Redis keys and texts it writes: its key, then each `alsoSet` key; `undefined` when
   * it writes nothing. It walks `alsoSet` once: a for-in over an object in dictionary mode (the
   * pipeline's are) builds its list of keys every time. A value that is the same object as the
   * result's `value` (a reducer's `[state, state]`) is sent once.
   */
  private prepareWrite(key: string, result: TransactionResult): PreparedWrite | undefined {
    if (result === null || typeof result !== 'object') this.checkTransactionResult(key, result); // throws
    const value = result.value;
    if (value !== undefined) assertJsonValue(key, value);
    const text = value === undefined ? '' : JSON.stringify(value);
    const prefix = this.prefix;
    // The first alsoSet key is kept in locals and the arrays are made at their final size for the
    // usual cases (no alsoSet key or one): a growing array allocates room for 17.
    let firstKey: string | undefined;
    let firstText: string | undefined;
    let keys: string[] | undefined;
    let values: (string | undefined)[] | undefined;
    let others: string[] | undefined;
    const alsoSet = result.alsoSet;
    if (alsoSet !== undefined) {
      for (const k in alsoSet) {
        if (!Object.prototype.hasOwnProperty.call(alsoSet, k)) continue;
        assertKey(k);
        const v = alsoSet[k];
        let vText: string | undefined;
        if (v !== value || value === undefined) {
          assertJsonValue(k, v);
          vText = JSON.stringify(v);
        }
        if (firstKey === undefined) {
          firstKey = k;
          firstText = vText;
          continue;
        }
        if (keys === undefined) {
          keys = [prefix + key, prefix + firstKey];
          values = [text, firstText];
          others = [firstKey];
        }
        keys.push(prefix + k);
        (values as (string | undefined)[]).push(vText);
        (others as string[]).push(k);
      }
    }
    if (keys !== undefined) return { keys, values: values as (string | undefined)[], text, others };
    if (firstKey !== undefined) return { keys: [prefix + key, prefix + firstKey], values: [text, firstText], text, others: [firstKey] };
    if (value === undefined) return undefined;
    return { keys: [prefix + key], values: [text], text, others: undefined };
  }

  /** After a write: remembers the key's new text, forgets the texts of the keys `alsoSet` replaced. */
  private afterWrite(key: string, raw: string | null, result: TransactionResult, write: PreparedWrite): void {
    if (result.value !== undefined) this.rememberWritten(key, write.text);
    else if (raw !== null) this.rememberWritten(key, raw);
    const others = write.others;
    if (others !== undefined) for (let i = 0; i < others.length; i++) this.forget(others[i]);
  }

  /**
   * Sends a compare-and-set together with the others issued in the same turn of the event loop:
   * all of them in one script call (several for a very large flush, see `compareAndSetCalls`),
   * instead of one command per update. Resolves with 1 when written, 0 when the key had changed.
   */
  private queueCompareAndSet(
    key: string,
    keys: string[],
    expected: string | null,
    writeFirst: boolean,
    values: (string | undefined)[],
  ): Promise<number> {
    return new Promise<number>((resolve, reject) => this.queueItem(new PendingCompareAndSet(key, keys, expected, writeFirst, values, resolve, reject)));
  }

  /** Adds `item` to the compare-and-sets sent at the end of this turn of the event loop. */
  private queueItem(item: PendingCompareAndSet): void {
    if (this.casBatch === undefined) {
      this.casBatch = [];
      setImmediate(() => this.flushCompareAndSets());
    }
    this.casBatch.push(item);
  }

  private flushCompareAndSets(): void {
    const batch = this.casBatch ?? [];
    this.casBatch = undefined;
    for (const call of compareAndSetCalls(batch, this.expirySeconds ?? 0)) this.sendCompareAndSets(call);
  }

  /**
   * Runs one script call and settles each item with its own outcome. When Redis refuses the call
   * as a whole (a server error; the script writes only at its end, so it wrote nothing), each item
   * is sent again on its own, so that every caller gets its own typed error (or its write, when the
   * error was not the item's). A lost connection or a reply of the wrong shape rejects every item:
   * its write may have been applied, so sending it again could apply it twice.
   */
  private sendCompareAndSets(call: CompareAndSetCall): void {
    const { items } = call;
    const what = items.length === 1 ? items[0].what : `${items.length} batched updates`;
    const send = (c: Redis) => this.evalScript(c, COMPARE_AND_SET_MANY, COMPARE_AND_SET_MANY_SHA, call.keyCount, call.args);
    this.connection.run(what, send).then(
      (replies) => {
        if (!Array.isArray(replies) || replies.length !== items.length) {
          const err = new KVSError(
            `Redis at ${this.target} answered ${what} with ${JSON.stringify(replies)?.slice(0, 80)}, not one reply per update; ` +
              'their writes may or may not have been applied. Check that the server is a real Redis (>= 6), not a proxy that rewrites scripts.',
          );
          for (const item of items) item.failed(err);
          return;
        }
        for (let i = 0; i < items.length; i++) this.settleCompareAndSet(items[i], replies[i]);
      },
      (err) => {
        if (items.length > 1 && !(err instanceof StoreUnavailableError)) {
          for (const item of items) this.sendCompareAndSets(compareAndSetCalls([item], this.expirySeconds ?? 0)[0]);
        } else {
          for (const item of items) item.failed(err);
        }
      },
    );
  }

  /** Resolves `item` with its script reply (1 or 0), or rejects it with the error its command got. */
  private settleCompareAndSet(item: PendingCompareAndSet, reply: unknown): void {
    if (reply === 0 || reply === 1) item.written(reply);
    else if (typeof reply === 'string') item.failed(this.connection.translate(new Error(reply), item.what));
    else {
      const text = JSON.stringify(reply)?.slice(0, 80);
      item.failed(new KVSError(`${item.what} on Redis at ${this.target} got the unexpected reply ${text}; its write may or may not have been applied.`));
    }
  }

  /** Remembers the raw text `key` holds after our write (bounded by {@link LAST_SEEN_CHARS}). */
  private rememberWritten(key: string, text: string): void {
    const old = this.lastSeen.get(key);
    if (old !== undefined) {
      // Keep the key's place (oldest-first eviction by first write): cheaper than moving it.
      if (text.length <= LAST_SEEN_CHARS / 16) {
        this.lastSeen.set(key, text);
        this.lastSeenChars += text.length - old.length;
        return;
      }
      this.lastSeenChars -= old.length;
      this.lastSeen.delete(key);
    }
    if (text.length > LAST_SEEN_CHARS / 16) return;
    this.lastSeen.set(key, text);
    this.lastSeenChars += text.length;
    while (this.lastSeenChars > LAST_SEEN_CHARS || this.lastSeen.size > LAST_SEEN_KEYS) {
      const [oldestKey, oldestText] = this.lastSeen.entries().next().value as [string, string];
      this.lastSeen.delete(oldestKey);
      this.lastSeenChars -= oldestText.length;
    }
  }

  private forget(key: string): void {
    const old = this.lastSeen.get(key);
    if (old === undefined) return;
    this.lastSeenChars -= old.length;
    this.lastSeen.delete(key);
  }

  /**
   * Runs a Lua script by its SHA, loading it (EVAL) when the server does not have it (first use,
   * or after SCRIPT FLUSH / a restart). `args` holds the `keyCount` keys, then ARGV.
   */
  private async evalScript(client: Redis, script: string, sha: string, keyCount: number, args: string[]): Promise<unknown> {
    try {
      return await client.evalsha(sha, keyCount, args);
    } catch (err) {
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      return await client.eval(script, keyCount, args);
    }
  }

  /** Every Redis key starting with `rawPrefix` (SCAN with an escaped MATCH pattern). */
  private async scan(rawPrefix: string): Promise<string[]> {
    const pattern = escapeRedisGlob(rawPrefix) + '*';
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.connection.run(`SCAN MATCH ${JSON.stringify(pattern)}`, (c) =>
        c.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH),
      );
      for (const k of batch) if (k.startsWith(rawPrefix)) found.add(k);
      cursor = next;
    } while (cursor !== '0');
    return [...found];
  }

  private decode(key: string, raw: string | null): JsonValue | undefined {
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as JsonValue;
    } catch {
      throw new CorruptValueError(
        `Redis key ${JSON.stringify(this.prefix + key)} at ${this.target} does not hold JSON (${JSON.stringify(raw.slice(0, 40))}). ` +
          'It was not written by this store: remove it, or give this store its own `prefix` or db.',
      );
    }
  }
}
