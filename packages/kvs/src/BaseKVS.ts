import { readFile, writeFile } from 'node:fs/promises';
import { ConflictError, CorruptValueError, InvalidKeyError, InvalidValueError, StoreClosedError } from './errors';
import { assertJsonValue, assertKey } from './json';
import type { JsonValue, KVStore, TransactionFn, TransactionResult, UpdateFn } from './types';

/**
 * Names that `store[name]` never treats as a key read, because runtimes probe them
 * (`await` looks up `then`, JSON/inspectors look up the others).
 */
const PROBED_NAMES = new Set([
  'then',
  'catch',
  'finally',
  'toJSON',
  'inspect',
  'constructor',
  'asymmetricMatch',
  '$$typeof',
  'nodeType',
  'toString',
  'valueOf',
  // Optional KVStore methods callers probe for (a backend without them must not read a key).
  'setMany',
  'eagerTransaction',
]);

/** Reason given by `update` when its callback returns `undefined`. */
const UPDATE_RETURNED_UNDEFINED =
  'returned by the update callback is undefined (return the current value to keep it, call remove() to delete the key, or use transaction() without "value" to skip the write)';

/**
 * Shared behaviour of every backend: `await store[key]`, key/value validation, `update` on top of
 * `transaction`, and `dump`/`load` on top of `keys`/`multiget`/`set`.
 *
 * `store[key]` returns `store.get(key)` (a Promise) unless `key` is a member of the store (a method
 * such as `get` or `keys`, or a property such as `type`) or one of a few names runtimes probe
 * (`then`, `toJSON`, `constructor`, ...). For those, call `store.get(key)`.
 *
 * Subclasses must not use `#private` fields: the instance is wrapped in a Proxy, and methods run
 * with the proxy as `this`. Use TypeScript `private` instead.
 */
export abstract class BaseKVS implements KVStore {
  abstract readonly type: string;
  readonly [key: string]: unknown;
  /** Attempts `update`/`transaction` makes before throwing `ConflictError`. */
  protected maxRetries = 50;
  protected closed = false;
  /**
   * This instance without its Proxy. Methods run with the proxy as `this`, so every member access
   * goes through the proxy's `get` trap; hot paths read `this.unwrapped` once and work on it.
   */
  protected readonly unwrapped: this;

  constructor() {
    this.unwrapped = this;
    return new Proxy(this, {
      get(target, prop, receiver) {
        if (typeof prop === 'symbol' || prop in target || PROBED_NAMES.has(prop)) {
          return Reflect.get(target, prop, receiver);
        }
        return target.get(prop);
      },
    });
  }

  abstract get(key: string): Promise<JsonValue | undefined>;
  abstract set(key: string, value: JsonValue): Promise<void>;
  abstract keys(prefix?: string): Promise<string[]>;
  abstract multiget(keys: readonly string[]): Promise<(JsonValue | undefined)[]>;
  abstract remove(key: string): Promise<void>;
  abstract clear(): Promise<void>;
  abstract transaction(key: string, fn: TransactionFn): Promise<TransactionResult>;
  abstract close(): Promise<void>;

  /**
   * Atomic read-modify-write on top of `transaction`. A callback that returns `undefined` is an
   * error (`InvalidValueError`, nothing written): return the current value to keep it, call
   * `remove(key)` to delete it, or use `transaction` without `value` to skip the write.
   *
   * @example
   * await store.update('n', (n) => ((n as number | undefined) ?? 0) + 1);
   */
  async update(key: string, fn: UpdateFn): Promise<JsonValue> {
    const result = await this.transaction(key, async (current) => {
      const value = await fn(current);
      if (value === undefined) throw new InvalidValueError(key, '$', UPDATE_RETURNED_UNDEFINED);
      return { value };
    });
    return result.value as JsonValue;
  }

  /**
   * Writes several keys: validates every entry first (nothing is written when one is invalid),
   * then writes them with `set`, up to 32 at a time. After a failed write no further one starts,
   * and the call rejects (with the first error) only once the writes under way have ended.
   * Backends override it with a single step.
   */
  async setMany(entries: Iterable<readonly [string, JsonValue]>): Promise<void> {
    const list = this.checkEntries(entries);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (next < list.length && failure === undefined) {
        const [k, v] = list[next++];
        try {
          await this.set(k, v);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, list.length) }, worker));
    // (assigned in the workers, which TypeScript's narrowing does not see)
    const failed = failure as { error: unknown } | undefined;
    if (failed) throw failed.error;
  }

  async dump(filename?: string): Promise<Record<string, JsonValue>> {
    const keys = (await this.keys()).sort();
    const values = await this.multiget(keys);
    const out: Record<string, JsonValue> = {};
    keys.forEach((k, i) => {
      if (values[i] !== undefined) out[k] = values[i] as JsonValue;
    });
    if (filename) await writeFile(filename, JSON.stringify(out, null, 2) + '\n', 'utf8');
    return out;
  }

  /**
   * Sets every key/value of a JSON file written by `dump`. The whole file is checked first (a JSON
   * object, every key a non-empty string, every value JSON): a bad file is `CorruptValueError` or
   * `InvalidKeyError`, naming the file, and nothing is written.
   *
   * @example
   * await store.load('backup.json');
   */
  async load(filename: string): Promise<void> {
    const text = await readFile(filename, 'utf8');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new CorruptValueError(`${filename} is not valid JSON (${(err as Error).message}); give a file written by dump().`);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new CorruptValueError(`${filename} must hold a JSON object of key -> value, as dump() writes.`);
    }
    const entries = Object.entries(data);
    for (const [k, v] of entries) {
      if (k === '') {
        throw new InvalidKeyError(`${filename} holds an empty key (""), which a store cannot hold; nothing was loaded. Remove or rename that entry in the file.`);
      }
      assertKey(k);
      assertJsonValue(k, v);
    }
    for (const [k, v] of entries) await this.set(k, v as JsonValue);
  }

  /** Validates a key and a value before a write. */
  protected checkWrite(key: string, value: unknown): asserts value is JsonValue {
    this.checkOpen();
    assertKey(key);
    assertJsonValue(key, value);
  }

  /** Validates every entry of a `setMany` call; returns them as a list. */
  protected checkEntries(entries: Iterable<readonly [string, JsonValue]>): (readonly [string, JsonValue])[] {
    this.checkOpen();
    const list = [...entries];
    for (const entry of list) {
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw new TypeError('setMany(entries) needs [key, value] pairs (an array of pairs, or a Map).');
      }
      assertKey(entry[0]);
      assertJsonValue(entry[0], entry[1]);
    }
    return list;
  }

  /** Validates a transaction's result before anything is written. */
  protected checkTransactionResult(key: string, result: TransactionResult): void {
    if (result === null || typeof result !== 'object') {
      throw new TypeError(`transaction(${JSON.stringify(key)}) callback must return an object { value?, alsoSet? }.`);
    }
    const value = result.value;
    if (value !== undefined) assertJsonValue(key, value);
    const alsoSet = result.alsoSet;
    if (alsoSet === undefined) return;
    for (const k in alsoSet) {
      if (!Object.prototype.hasOwnProperty.call(alsoSet, k)) continue;
      assertKey(k);
      if (alsoSet[k] !== value || value === undefined) assertJsonValue(k, alsoSet[k]);
    }
  }

  protected checkOpen(): void {
    if (this.closed) throw new StoreClosedError(`This ${this.type} store was closed; create a new one (or get it again from the router).`);
  }

  protected conflict(key: string, attempts: number): ConflictError {
    return new ConflictError(key, attempts);
  }
}
