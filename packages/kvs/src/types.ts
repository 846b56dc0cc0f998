/**
 * A value that survives `JSON.stringify` / `JSON.parse` unchanged. Every value stored in a
 * {@link KVStore} must be one of these; anything else is rejected before it is written.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object (the usual shape of reducer state). */
export type JsonObject = { [key: string]: JsonValue };

/**
 * What a {@link KVStore.transaction} callback decides after reading the current value.
 *
 * - `value`: the new value for the transaction's key. Omit it (or leave it `undefined`) to leave
 *   the key as it is.
 * - `alsoSet`: other keys to write in the same step. They are written only when the transaction
 *   commits, and only by the writer that won the compare-and-set on the main key, so writes to
 *   them are ordered the same way as writes to the main key.
 */
export interface TransactionResult {
  value?: JsonValue;
  alsoSet?: Record<string, JsonValue>;
}

/** Callback of {@link KVStore.transaction}. May be called more than once (on conflicts). */
export type TransactionFn = (current: JsonValue | undefined) => TransactionResult | Promise<TransactionResult>;

/**
 * A {@link TransactionFn} that also gets the caller's `arg` (`eagerTransaction`,
 * `transactionWithCallbacks`): one function for many calls, no closure per call.
 *
 * @example
 * const add: TransactionFnWithArg<number> = (n, by) => ({ value: ((n as number | undefined) ?? 0) + by });
 */
export type TransactionFnWithArg<A> = (current: JsonValue | undefined, arg: A) => TransactionResult | Promise<TransactionResult>;

/**
 * Callback of {@link KVStore.update}. May be called more than once (on conflicts). It must return
 * a JSON value: returning `undefined` makes `update` reject with `InvalidValueError` and write
 * nothing (return the current value to keep it).
 */
export type UpdateFn = (current: JsonValue | undefined) => JsonValue | Promise<JsonValue>;

/**
 * Options of {@link KVStore.clear}.
 *
 * @example
 * await store.clear({ wholeDatabase: true }); // a Redis store without a prefix: empty its whole db
 */
export interface ClearOptions {
  /**
   * Needed to clear a store that has no namespace of its own in shared storage (a Redis store
   * without a `prefix`, whose `clear()` would remove every key of its db, other programs'
   * included): `true` says the whole database really belongs to this store. Without it such a
   * store throws `UnscopedClearError` and removes nothing. Other stores ignore it.
   */
  wholeDatabase?: boolean;
}

/**
 * The contract every backend implements.
 *
 * A missing key reads as `undefined` everywhere: `get`, `multiget`, `store[key]` and the
 * `current` argument of `update`/`transaction`. (`null` is a stored JSON value, not "missing".)
 *
 * @example
 * ```ts
 * const store: KVStore = new InMemoryKVS();
 * await store.set('External,counter,STUDENT:s1', { count: 1 });
 * await store.update('External,counter,STUDENT:s1', (v) => ({ count: ((v as any)?.count ?? 0) + 1 }));
 * const value = await store.get('External,counter,STUDENT:s1'); // { count: 2 }
 * ```
 */
export interface KVStore {
  /** Backend type name, e.g. `stub`, `filesystem`, `redis`, `redis_ephemeral`. */
  readonly type: string;
  /** The value stored under `key`, or `undefined` when there is none. */
  get(key: string): Promise<JsonValue | undefined>;
  /** Stores `value` under `key`. Rejects non-JSON values with `InvalidValueError` before writing. */
  set(key: string, value: JsonValue): Promise<void>;
  /** Every key of this store (only this store's keys), optionally only those starting with `prefix`. */
  keys(prefix?: string): Promise<string[]>;
  /** Values for many keys in one round trip, aligned with `keys`; missing ones are `undefined`. */
  multiget(keys: readonly string[]): Promise<(JsonValue | undefined)[]>;
  /** Removes `key`; removing a missing key is not an error. */
  remove(key: string): Promise<void>;
  /**
   * Removes every key of this store (and only this store's keys). A store that cannot tell its
   * keys from others' (Redis without a `prefix`) throws `UnscopedClearError` instead, unless
   * given `{ wholeDatabase: true }` (see {@link ClearOptions}).
   */
  clear(options?: ClearOptions): Promise<void>;
  /** Returns every key and value as an object; also writes it as JSON to `filename` when given. */
  dump(filename?: string): Promise<Record<string, JsonValue>>;
  /** Sets every key/value of a JSON file written by `dump`. */
  load(filename: string): Promise<void>;
  /**
   * Atomic read-modify-write of one key: `fn` gets the current value and returns the new one.
   * Concurrent updaters (in this process or in others) never lose an update. Returns the value
   * written. `fn` returning `undefined` (or any non-JSON value) rejects with `InvalidValueError`
   * and writes nothing.
   */
  update(key: string, fn: UpdateFn): Promise<JsonValue>;
  /**
   * Atomic read-modify-write of `key` that may also write other keys in the same step (see
   * {@link TransactionResult}). Returns what `fn` returned on the attempt that committed.
   */
  transaction(key: string, fn: TransactionFn): Promise<TransactionResult>;
  /**
   * Optional: writes several keys in one step (blind writes, like `set`). Every key and value is
   * validated before anything is written. `BaseKVS` provides it for every backend: in memory all
   * keys change at once; on Redis it is one atomic MSET (MULTI/SET EX with a TTL); on the file
   * system each file is written atomically, several at a time. Callers fall back to `set` per
   * key when a store lacks it.
   *
   * @example
   * await store.setMany([['Internal,r,STUDENT:s1', { n: 1 }], ['External,r,STUDENT:s1', { n: 1 }]]);
   */
  setMany?(entries: Iterable<readonly [string, JsonValue]>): Promise<void>;
  /**
   * Optional fast path of in-process stores: `transaction`, but when no transaction of `key` is in
   * progress it runs `fn` at once, and when `fn` returns a plain result (not a Promise) it commits
   * and returns that result synchronously, with no Promise in between. Otherwise it returns a
   * Promise, exactly as `transaction` does. Errors of the synchronous path are thrown.
   * `arg` is passed to `fn` as its second argument, so a caller running many transactions can
   * pass one function and its data instead of a new closure per call.
   *
   * @example
   * const r = store.eagerTransaction?.('n', (n) => ({ value: ((n as number | undefined) ?? 0) + 1 }));
   * const add = (n: JsonValue | undefined, by: number) => ({ value: ((n as number | undefined) ?? 0) + by });
   * store.eagerTransaction?.('n', add, 5);
   */
  eagerTransaction?<A = undefined>(
    key: string,
    fn: TransactionFnWithArg<A>,
    arg?: A,
  ): TransactionResult | Promise<TransactionResult>;
  /**
   * Optional fast path of stores whose transactions wait on I/O (Redis): `transaction`, reported
   * through callbacks instead of a Promise, for callers that run very many (the reducer pipeline).
   * `fn` gets `arg` as its second argument; exactly one of `onResult(result, arg)` and
   * `onError(err, arg)` is called, once, and never before this method returns. Passing `arg`
   * back lets a caller give every call the same three functions and its own data, instead of a
   * Promise and several closures per call. Everything else is `transaction`'s contract: the same
   * atomicity, retries, per-key order and errors (those of its own checks included: they go to
   * `onError`, never thrown). The callbacks must not throw.
   *
   * @example
   * const bump = (n: JsonValue | undefined, by: number) => ({ value: ((n as number | undefined) ?? 0) + by });
   * store.transactionWithCallbacks?.('n', bump, 5, (result) => console.log(result.value), (err) => console.error(err));
   */
  transactionWithCallbacks?<A>(
    key: string,
    fn: TransactionFnWithArg<A>,
    arg: A,
    onResult: (result: TransactionResult, arg: A) => void,
    onError: (err: unknown, arg: A) => void,
  ): void;
  /**
   * Optional hint: how many transactions this store works best with in flight at once. A caller
   * that runs many (the reducer pipeline) takes it as its default. Redis says 256: it sends the
   * compare-and-sets of one event-loop turn as one script call, so more in flight means fewer,
   * fuller calls. `Infinity` means no limit of its own (in memory); `undefined`, no opinion.
   *
   * @example
   * const inFlight = Math.min(...stores.map((s) => s.preferredConcurrency ?? 32));
   */
  readonly preferredConcurrency?: number;
  /** Releases connections and file handles. The store must not be used afterwards. */
  close(): Promise<void>;
  /** `await store[key]` reads a key, as in the original (see `BaseKVS`). */
  readonly [key: string]: unknown;
}
