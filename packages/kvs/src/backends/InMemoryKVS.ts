import { BaseKVS } from '../BaseKVS';
import { KeyedQueue } from '../fs/KeyedQueue';
import { assertKey, cloneJson, cloneValidJson } from '../json';
import type { JsonValue, TransactionFn, TransactionFnWithArg, TransactionResult } from '../types';

/**
 * The `stub` backend: keys and values live in this process's memory and disappear with it.
 *
 * - Every instance is its own store (two named `stub` backends never share data).
 * - Values are validated and deep-copied on the way in and on the way out, so a caller mutating
 *   an object after `set` or after `get` never changes what is stored.
 * - `update`/`transaction` run one at a time per key, so concurrent updaters never lose an update.
 *   A plain `set` is a blind write (last writer wins) and does not wait for running transactions.
 *
 * @example
 * ```ts
 * const store = new InMemoryKVS();
 * await store.set('greeting', { text: 'hi' });
 * await store.get('greeting');          // { text: 'hi' }
 * await store['greeting'];              // same, as in the original
 * await store.update('n', (n) => ((n as number | undefined) ?? 0) + 1); // 1
 * await store.clear();                  // empty again (handy between tests)
 * ```
 */
export class InMemoryKVS extends BaseKVS {
  readonly type = 'stub';
  /** No limit of its own: a transaction with a synchronous callback finishes before the next starts. */
  get preferredConcurrency(): number {
    return Infinity;
  }
  private data = new Map<string, JsonValue>();
  private readonly queue = new KeyedQueue();

  override async get(key: string): Promise<JsonValue | undefined> {
    this.checkOpen();
    assertKey(key);
    return cloneJson(this.data.get(key));
  }

  override async set(key: string, value: JsonValue): Promise<void> {
    this.checkOpen();
    assertKey(key);
    this.data.set(key, cloneValidJson(key, value));
  }

  override async keys(prefix?: string): Promise<string[]> {
    this.checkOpen();
    const out: string[] = [];
    for (const key of this.data.keys()) {
      if (!prefix || key.startsWith(prefix)) out.push(key);
    }
    return out;
  }

  override async multiget(keys: readonly string[]): Promise<(JsonValue | undefined)[]> {
    this.checkOpen();
    keys.forEach((key) => assertKey(key));
    return keys.map((key) => cloneJson(this.data.get(key)));
  }

  override async remove(key: string): Promise<void> {
    this.checkOpen();
    assertKey(key);
    this.data.delete(key);
  }

  override async clear(): Promise<void> {
    this.checkOpen();
    this.data.clear();
  }

  /** Writes every entry at once (after validating them all). */
  override async setMany(entries: Iterable<readonly [string, JsonValue]>): Promise<void> {
    this.checkOpen();
    const copies: [string, JsonValue][] = [];
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw new TypeError('setMany(entries) needs [key, value] pairs (an array of pairs, or a Map).');
      }
      assertKey(entry[0]);
      copies.push([entry[0], cloneValidJson(entry[0], entry[1])]);
    }
    // Only once every entry is valid.
    for (let i = 0; i < copies.length; i++) this.data.set(copies[i][0], copies[i][1]);
  }

  override async transaction(key: string, fn: TransactionFn): Promise<TransactionResult> {
    this.checkOpen();
    assertKey(key);
    return this.queue.run(key, async () => {
      this.checkOpen();
      return this.commit(key, await fn(cloneJson(this.data.get(key))));
    });
  }

  /**
   * `transaction` without a Promise when it can: if no transaction of `key` is queued and `fn`
   * returns a plain result, the result is committed and returned synchronously. A Promise from
   * `fn` keeps the key locked (later transactions of it wait) until it settles.
   *
   * `arg`, when given, is passed to `fn` as its second argument (one function for many calls,
   * no closure per call).
   *
   * @example
   * const result = store.eagerTransaction('n', (n) => ({ value: ((n as number | undefined) ?? 0) + 1 }));
   * // result is { value: 1 } (not a Promise) when nothing else was updating 'n'
   */
  eagerTransaction<A = undefined>(
    key: string,
    fn: TransactionFnWithArg<A>,
    arg?: A,
  ): TransactionResult | Promise<TransactionResult> {
    const self = this.unwrapped;
    self.checkOpen();
    assertKey(key);
    if (self.queue.has(key)) return self.transaction(key, (current) => fn(current, arg as A));
    const pending = fn(cloneJson(self.data.get(key)), arg as A);
    if (typeof (pending as Promise<TransactionResult>)?.then !== 'function') return self.commit(key, pending as TransactionResult);
    return self.queue.run(key, async () => {
      const result = await pending;
      self.checkOpen();
      return self.commit(key, result);
    });
  }

  /**
   * Validates a transaction's result and writes it (the same copy for keys given the same object).
   * Each value is validated and copied in one walk; nothing is written unless all are valid.
   */
  private commit(key: string, result: TransactionResult): TransactionResult {
    if (result === null || typeof result !== 'object') this.checkTransactionResult(key, result);
    const value = result.value;
    const stored = value === undefined ? undefined : cloneValidJson(key, value);
    const alsoSet = result.alsoSet;
    // The first alsoSet entry in two variables (a reducer writes one external key), any others in a list.
    let firstKey: string | undefined;
    let firstCopy: JsonValue | undefined;
    let others: [string, JsonValue][] | undefined;
    if (alsoSet !== undefined) {
      for (const k in alsoSet) {
        if (!Object.prototype.hasOwnProperty.call(alsoSet, k)) continue;
        assertKey(k);
        const v = alsoSet[k];
        // Stored values are never mutated in place, so two keys may share one copy.
        const copy = v === value && stored !== undefined ? stored : cloneValidJson(k, v);
        if (firstKey === undefined) {
          firstKey = k;
          firstCopy = copy;
        } else if (others === undefined) others = [[k, copy]];
        else others.push([k, copy]);
      }
    }
    this.checkOpen();
    if (stored !== undefined) this.data.set(key, stored);
    if (firstKey !== undefined) this.data.set(firstKey, firstCopy as JsonValue);
    if (others !== undefined) for (let i = 0; i < others.length; i++) this.data.set(others[i][0], others[i][1]);
    return result;
  }

  override async close(): Promise<void> {
    this.closed = true;
    this.data = new Map();
  }
}
