import { readFile, writeFile } from 'node:fs/promises';
import { ConflictError, CorruptValueError, InvalidKeyError, InvalidValueError, StoreClosedError } from './errors';
import { isStoreMember, KVSTORE_API_NAMES } from './isStoreMember';
import { assertJsonValue, assertKey } from './json';
import type { ClearOptions, JsonValue, KVStore, TransactionFn, TransactionResult, UpdateFn } from './types';

/** Reason given by `update` when its callback returns `undefined`. */
const UPDATE_RETURNED_UNDEFINED =
  'returned by the update callback is undefined (return the current value to keep it, call remove() to delete the key, or use transaction() without "value" to skip the write)';

const API_NAMES: ReadonlySet<string> = new Set(KVSTORE_API_NAMES);

/** `publicMembers` of each backend class, as a Set (computed once per class). */
const publicMemberSets = new WeakMap<object, ReadonlySet<string>>();

function publicMembersOf(target: BaseKVS): ReadonlySet<string> {
  const ctor = target.constructor as typeof BaseKVS;
  let set = publicMemberSets.get(ctor);
  if (set === undefined) {
    set = new Set(ctor.publicMembers);
    publicMemberSets.set(ctor, set);
  }
  return set;
}

/**
 * Shared behaviour of every backend: `await store[key]`, key/value validation, `update` on top of
 * `transaction`, and `dump`/`load` on top of `keys`/`multiget`/`set`.
 *
 * `store[name]` returns `store.get(name)` (a Promise) unless `name` is a symbol or a member name:
 * any name the store object has (its methods and fields, internal ones such as `data` or `ready`
 * included), a `KVStore` method name, a name runtimes probe (`then`, `toJSON`...; see
 * `isStoreMember`). Read keys with such names with `store.get(name)`. The `KVStore` API and the
 * names a backend lists in its static `publicMembers` are bound to the instance when read
 * through the store, so `const { get } = store` works.
 *
 * An object that inherits from a store (`Object.create(store)`, as test doubles do) reaches the
 * store's fields and methods through its prototype as before: for it, any name the instance has
 * is a member.
 *
 * Subclasses: a constructor runs on the Proxy (what `new` returns), so there set fields freely but
 * read only public members (keep other values in local variables). Do not use `#private` fields
 * (they would land on the Proxy, not on the instance methods run on); use TypeScript `private`.
 */
export abstract class BaseKVS implements KVStore {
  /**
   * Names besides the `KVStore` API that `store[name]` gives as members: the backend's documented
   * public properties and methods. A subclass with its own public members lists them, keeping
   * its parent's.
   *
   * @example
   * class MyKVS extends BaseKVS {
   *   static override readonly publicMembers = [...BaseKVS.publicMembers, 'endpoint'];
   *   readonly endpoint = 'https://kv.example.org';
   *   // ...
   * }
   */
  static readonly publicMembers: readonly string[] = [];
  abstract readonly type: string;
  readonly [key: string]: unknown;
  /** Attempts `update`/`transaction` makes before throwing `ConflictError`. */
  protected maxRetries = 50;
  protected closed = false;
  /** This instance without its Proxy (methods read through the store already run on it). */
  protected readonly unwrapped: this;

  constructor() {
    this.unwrapped = this;
    // Methods bound to the instance, per name; rebound when the method changes (e.g. a test spy).
    const bound = new Map<string, { fn: Function; bound: Function }>();
    let publicMembers: ReadonlySet<string> | undefined;
    const proxy: this = new Proxy(this, {
      get(target, prop, receiver) {
        if (typeof prop === 'symbol') return Reflect.get(target, prop, receiver);
        if (receiver !== proxy) {
          // Reached through an object inheriting from the store: its methods run with that object as `this`.
          return prop in target ? Reflect.get(target, prop, receiver) : target.get(prop);
        }
        publicMembers ??= publicMembersOf(target);
        // Any name the store object has (its methods and fields, internal ones included) is a
        // member: a method that runs with the Proxy as `this` (called through `apply`, a wrapper
        // or a spy) must still reach its own fields.
        if (!(prop in target) && !isStoreMember(prop, publicMembers)) return target.get(prop);
        const value: unknown = Reflect.get(target, prop, target);
        // Only the store's own API is bound (not `constructor`, `toString`...).
        if (typeof value !== 'function' || !(API_NAMES.has(prop) || publicMembers.has(prop))) return value;
        const known = bound.get(prop);
        if (known?.fn === value) return known.bound;
        // A read-only, non-configurable own property must be returned as it is (a Proxy invariant).
        const own = Object.getOwnPropertyDescriptor(target, prop);
        const fn = own && !own.configurable && !own.writable ? value : (value as Function).bind(target);
        bound.set(prop, { fn: value as Function, bound: fn as Function });
        return fn;
      },
    });
    return proxy;
  }

  abstract get(key: string): Promise<JsonValue | undefined>;
  abstract set(key: string, value: JsonValue): Promise<void>;
  abstract keys(prefix?: string): Promise<string[]>;
  abstract multiget(keys: readonly string[]): Promise<(JsonValue | undefined)[]>;
  abstract remove(key: string): Promise<void>;
  abstract clear(options?: ClearOptions): Promise<void>;
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
