/// <reference types="jest" />
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonValue, KVStore, TransactionFnWithArg, TransactionResult } from '@learning-observer/kvs';

/** Raw access to a store's underlying storage, outside every store's namespace (see `ConformanceOptions.foreign`). */
export interface ForeignStorage {
  /** Stores the raw text `raw` under the storage key `key` (e.g. a Redis SET). */
  write(key: string, raw: string): Promise<void>;
  /** The raw text under `key`, or `undefined`/`null` when there is none. */
  read(key: string): Promise<string | null | undefined>;
  /** Deletes `key` (cleanup after the case). */
  remove?(key: string): Promise<void>;
}

/** Options of {@link runKVStoreConformance}. */
export interface ConformanceOptions {
  /**
   * For backends whose keys expire (e.g. `redis_ephemeral`): `expiresWithinMs` is the time after
   * which a key written by `set`, `update` or a transaction's `alsoSet` must be gone. The
   * factory should configure a short expiry (e.g. 1 second) for this case to stay fast.
   */
  ttl?: { expiresWithinMs: number };
  /**
   * Opens a second store on the same underlying data as `store` (same folder, same Redis prefix).
   * When given, the suite also checks that writes are visible through the other instance and that
   * concurrent `update`s through both instances never lose an increment.
   */
  reopen?: (store: KVStore) => Promise<KVStore>;
  /**
   * Opens a store on the same underlying storage as `store` but with its own namespace (same Redis
   * db with another prefix, a sibling folder, another in-memory instance). When given, the suite
   * checks that `keys()` and `clear()` of one store never see or remove the other's keys.
   */
  sibling?: (store: KVStore) => Promise<KVStore>;
  /**
   * Raw access to the storage outside every store's namespace (for Redis: a plain client on the
   * same db). When given, the suite checks that `clear()` leaves a foreign key, one no store
   * wrote, alone. `write` stores `raw` (not JSON) under the storage key `key`; `read` returns it,
   * or `undefined`/`null` when it is missing; `remove`, when given, deletes it afterwards.
   *
   * @example
   * foreign: {
   *   write: async (key, raw) => void (await redis.set(key, raw)),
   *   read: (key) => redis.get(key),
   *   remove: async (key) => void (await redis.del(key)),
   * }
   */
  foreign?: ForeignStorage;
  /** Number of concurrent `update` increments in the concurrency cases (default 50). */
  concurrentUpdates?: number;
  /**
   * Length of the queue of transactions on one key that the ordering case issues behind a slow
   * one (default 20,000: enough to overflow the stack of a store that starts each queued
   * transaction from the one before). Lower it for a backend whose transactions are slow.
   */
  queuedTransactions?: number;
  /** Jest timeout of each case in milliseconds (default 30000). */
  timeoutMs?: number;
  /**
   * Registers backend-specific cases inside the same `describe`. `store()` returns the fresh store
   * of the running case (created before and closed after each case, like the shared ones).
   */
  extraCases?: (store: () => KVStore) => void;
}

/** A nested JSON value that exercises every JSON type. */
const NESTED: JsonValue = {
  text: 'Hello, wörld 😀 \u0000 "quoted" \\ back\nslash',
  int: 42,
  negative: -7,
  float: 3.25,
  tiny: 1e-7,
  big: 1e16,
  yes: true,
  no: false,
  nothing: null,
  empty: {},
  emptyList: [],
  list: [1, 'two', { three: [3, [null, false]] }],
  deep: { a: { b: { c: { d: { e: ['f'] } } } } },
  'key with spaces, commas: and "quotes"': 'ok',
};

/** Keys that need escaping somewhere: file names, Redis patterns, JSON. */
const AWKWARD_KEYS = [
  'foo/barła',
  '😀',
  'emoji 😀 in the middle',
  '[guest]',
  'External,writing_observer.writing_analysis.time_on_task,STUDENT:[guest]',
  'a,b:c',
  '-45-',
  '_x',
  'x/y',
  'a b',
  '../escape',
  '.hidden',
  '~tilde',
  'star*question?[brackets]',
  'tab\tnewline\n',
  'ключ',
  '日本語のキー',
];

/**
 * Keys named like fields and helpers backends keep internally: `get` must read them, and so must
 * `await store[key]` for each that is not a member of the store object; reading members by
 * those names must not break the store.
 */
const PRIVATE_LOOKING_KEYS = [
  'data',
  'path',
  'ready',
  'queue',
  'closed',
  'maxRetries',
  'unwrapped',
  'connection',
  'writes',
  'transactions',
  'fsync',
  'lastSeen',
  'checkOpen',
  'checkWrite',
  'init',
  'scan',
  'decode',
];

class NotPlain {
  value = 1;
}

/** Non-JSON values that every backend must reject before writing anything. */
function nonJsonValues(): [string, unknown][] {
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  const cyclicList: unknown[] = [1];
  cyclicList.push({ back: cyclicList });
  return [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a BigInt', BigInt(10)],
    ['a symbol', Symbol('s')],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a cyclic object', cycle],
    ['a cyclic array', cyclicList],
    ['a class instance', new NotPlain()],
    ['a Date', new Date(0)],
    ['a Map', new Map([['a', 1]])],
    ['undefined nested in an object', { a: { b: undefined } }],
    ['undefined nested in a list', { a: [1, undefined] }],
    ['NaN nested', { stats: { mean: NaN } }],
    ['a function nested', { a: [{ f: () => 1 }] }],
  ];
}

/** Resolves when `promise` rejects with an error whose `name` is `name` (works across module copies). */
async function expectRejectsNamed(promise: Promise<unknown>, name: string): Promise<Error> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  if (error === undefined) throw new Error(`Expected a ${name}, but the call resolved.`);
  expect((error as Error).name).toBe(name);
  return error as Error;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What a `transactionWithCallbacks` call reported (see {@link viaCallbacks}). */
interface CallbackOutcome {
  ok?: TransactionResult;
  err?: unknown;
  /** The `arg` the callback got. */
  arg: unknown;
  /** Whether it was called before `transactionWithCallbacks` returned. */
  early: boolean;
  /** How many callbacks (of both) were called for this transaction, counted when settled. */
  calls: () => number;
}

/** Runs `store.transactionWithCallbacks` and resolves with what it reported (first callback). */
function viaCallbacks<A>(
  store: KVStore,
  key: string,
  fn: TransactionFnWithArg<A>,
  arg: A,
): Promise<CallbackOutcome> {
  return new Promise((resolve) => {
    let returned = false;
    let calls = 0;
    const count = () => calls;
    (store.transactionWithCallbacks as NonNullable<KVStore['transactionWithCallbacks']>)(
      key,
      fn,
      arg,
      (ok, a) => {
        if (++calls === 1) resolve({ ok, arg: a, early: !returned, calls: count });
      },
      (err, a) => {
        if (++calls === 1) resolve({ err, arg: a, early: !returned, calls: count });
      },
    );
    returned = true;
  });
}

/**
 * Registers a Jest `describe(name)` with the cases every key-value store backend must pass:
 * JSON round trips, awkward keys, missing keys, `await store[key]`, `multiget` alignment,
 * `keys(prefix)`, `remove`, `clear`, copy isolation, `dump`/`load`, non-JSON rejection (`set`,
 * `update`, `transaction` value and `alsoSet`, `setMany`), `update` returning `undefined`,
 * transactions with `alsoSet`, transactions queued on one key (in order, past failing ones, a
 * long queue without growing the stack), `transactionWithCallbacks` when the store offers it
 * (the same contract through callbacks), concurrent `update`s, `close`, and optionally TTL expiry, a
 * second instance on the same data, clear scoping against a sibling store, and a foreign key
 * that survives `clear()`.
 *
 * `factory` must return a new, empty store that shares nothing with stores returned earlier
 * (a fresh temp folder, a unique Redis prefix...). Each case gets its own store and closes it.
 * Call it at the top level of a Jest test file (it uses the global `describe`/`it`/`expect`).
 *
 * @example
 * ```ts
 * import { runKVStoreConformance } from '@learning-observer/kvs-test-suite';
 * import { InMemoryKVS } from '@learning-observer/kvs';
 *
 * runKVStoreConformance('InMemoryKVS', async () => new InMemoryKVS());
 * ```
 */
export function runKVStoreConformance(
  name: string,
  factory: () => KVStore | Promise<KVStore>,
  options: ConformanceOptions = {},
): void {
  const timeout = options.timeoutMs ?? 30000;
  const concurrent = options.concurrentUpdates ?? 50;
  const queued = options.queuedTransactions ?? 20_000;

  describe(name, () => {
    let current: KVStore | undefined;
    const opened: KVStore[] = [];
    const store = (): KVStore => {
      if (!current) throw new Error('No store: the conformance factory has not run for this case.');
      return current;
    };
    const fresh = async (): Promise<KVStore> => {
      const s = await factory();
      opened.push(s);
      return s;
    };
    const increment = (v: JsonValue | undefined): JsonValue => ((v as number | undefined) ?? 0) + 1;

    beforeEach(async () => {
      current = await fresh();
    }, timeout);

    afterEach(async () => {
      const toClose = opened.splice(0);
      current = undefined;
      for (const s of toClose) {
        try {
          await s.close();
        } catch {
          // Already closed by the case itself.
        }
      }
    }, timeout);

    it('round-trips nested JSON and top-level scalars', async () => {
      const s = store();
      await s.set('nested', NESTED);
      expect(await s.get('nested')).toEqual(NESTED);
      const scalars: [string, JsonValue][] = [
        ['string', 'text'],
        ['emptyString', ''],
        ['zero', 0],
        ['float', -0.5],
        ['true', true],
        ['false', false],
        ['null', null],
        ['list', [1, [2, [3]]]],
      ];
      for (const [k, v] of scalars) await s.set(k, v);
      for (const [k, v] of scalars) expect(await s.get(k)).toEqual(v);
      expect(await s.get('null')).toBeNull();
      await s.set('nested', { replaced: true });
      expect(await s.get('nested')).toEqual({ replaced: true });
    }, timeout);

    it('stores Unicode and punctuation keys and lists them exactly', async () => {
      const s = store();
      for (const [i, k] of AWKWARD_KEYS.entries()) await s.set(k, { i, k });
      for (const [i, k] of AWKWARD_KEYS.entries()) expect(await s.get(k)).toEqual({ i, k });
      expect((await s.keys()).sort()).toEqual([...AWKWARD_KEYS].sort());
    }, timeout);

    it('reads a missing key as undefined everywhere', async () => {
      const s = store();
      await s.set('present', null);
      expect(await s.get('missing')).toBeUndefined();
      expect(await s.multiget(['missing', 'present'])).toEqual([undefined, null]);
      expect(await s['missing']).toBeUndefined();
      const seen: (JsonValue | undefined)[] = [];
      await s.update('missing-updated', (v) => {
        seen.push(v);
        return 1;
      });
      expect(seen).toEqual([undefined]);
      expect(await s.keys()).toEqual(expect.arrayContaining(['present', 'missing-updated']));
      expect(await s.keys()).not.toContain('missing');
    }, timeout);

    it('reads keys with `await store[key]`, while member names stay members', async () => {
      const s = store();
      await s.set('Internal,mod.reducer,STUDENT:s1', { count: 3 });
      expect(await s['Internal,mod.reducer,STUDENT:s1']).toEqual({ count: 3 });
      await s.set('get', 'a key named get');
      expect(typeof s['get']).toBe('function');
      expect(await s.get('get')).toBe('a key named get');
      await s.set('then', 'a key named then');
      expect(await Promise.resolve(s)).toBe(s);
      expect(await s.get('then')).toBe('a key named then');
    }, timeout);

    it('keys named like internal fields: get() reads them; `store[key]` reads those that are not members', async () => {
      const s = store();
      for (const k of PRIVATE_LOOKING_KEYS) await s.set(k, `the key ${k}`);
      for (const k of PRIVATE_LOOKING_KEYS) expect([k, await s.get(k)]).toEqual([k, `the key ${k}`]);
      for (const k of PRIVATE_LOOKING_KEYS.filter((name) => !(name in s))) expect([k, await s[k]]).toEqual([k, `the key ${k}`]);
      // The store still works after its members were looked up by those names.
      for (const k of PRIVATE_LOOKING_KEYS) void s[k];
      expect((await s.keys()).sort()).toEqual([...PRIVATE_LOOKING_KEYS].sort());
      await s.update('data', () => 'updated');
      expect(await s.get('data')).toBe('updated');
      expect(await s['never-set']).toBeUndefined();
    }, timeout);

    it('methods run with the store as `this` (an instrumenting wrapper, apply) still work', async () => {
      const s = store();
      const calls: string[] = [];
      const wrapped = new Proxy(s, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function' || typeof prop !== 'string') return value;
          return (...args: unknown[]) => {
            calls.push(prop);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      await wrapped.set('w', { n: 1 });
      expect(await wrapped.multiget(['w', 'none'])).toEqual([{ n: 1 }, undefined]);
      expect(await wrapped.get('w')).toEqual({ n: 1 });
      expect(await wrapped.keys()).toEqual(['w']);
      await wrapped.update('w', (v) => ({ n: (v as { n: number }).n + 1 }));
      expect(await s.get('w')).toEqual({ n: 2 });
      expect(calls).toEqual(['set', 'multiget', 'get', 'keys', 'update']);
    }, timeout);

    it('aligns multiget with its input, duplicates and missing keys included', async () => {
      const s = store();
      await s.set('a', { v: 'a' });
      await s.set('b', [1, 2]);
      expect(await s.multiget(['a', 'missing', 'b', 'a', 'missing'])).toEqual([{ v: 'a' }, undefined, [1, 2], { v: 'a' }, undefined]);
      expect(await s.multiget([])).toEqual([]);
      expect(await s.multiget(['foo/barła'])).toEqual([undefined]);
    }, timeout);

    it('lists keys, optionally by prefix', async () => {
      const s = store();
      const keys = ['Internal,m.r,STUDENT:1', 'Internal,m.r,STUDENT:2', 'External,m.r,STUDENT:1', 'Intern', 'foo/bar', 'foo/baz/qux', 'foobar'];
      for (const k of keys) await s.set(k, 1);
      expect((await s.keys()).sort()).toEqual([...keys].sort());
      expect((await s.keys('')).sort()).toEqual([...keys].sort());
      expect((await s.keys('Internal,')).sort()).toEqual(['Internal,m.r,STUDENT:1', 'Internal,m.r,STUDENT:2']);
      expect((await s.keys('foo/')).sort()).toEqual(['foo/bar', 'foo/baz/qux']);
      expect((await s.keys('foo')).sort()).toEqual(['foo/bar', 'foo/baz/qux', 'foobar']);
      expect(await s.keys('nothing-starts-like-this')).toEqual([]);
    }, timeout);

    it('removes keys; removing a missing key is fine', async () => {
      const s = store();
      await s.set('keep', 1);
      await s.set('drop', 2);
      await s.set('dir/drop', 3);
      await s.remove('drop');
      await s.remove('dir/drop');
      expect(await s.get('drop')).toBeUndefined();
      expect(await s.get('dir/drop')).toBeUndefined();
      expect(await s.keys()).toEqual(['keep']);
      await expect(s.remove('never-set')).resolves.toBeUndefined();
      await expect(s.remove('never/set')).resolves.toBeUndefined();
      await s.set('drop', 4);
      expect(await s.get('drop')).toBe(4);
    }, timeout);

    it('clears every key and stays usable', async () => {
      const s = store();
      for (const k of ['a', 'b/c', 'd/e/f', '😀']) await s.set(k, { k });
      await s.clear();
      expect(await s.keys()).toEqual([]);
      expect(await s.get('a')).toBeUndefined();
      expect(await s.get('b/c')).toBeUndefined();
      await s.set('a', 'again');
      expect(await s.keys()).toEqual(['a']);
      expect(await s.get('a')).toBe('again');
    }, timeout);

    it('copies values: mutating what was set or read never changes the store', async () => {
      const s = store();
      const original = { a: { b: 1 }, list: [1, 2] };
      await s.set('k', original);
      original.a.b = 2;
      original.list.push(3);
      const read = (await s.get('k')) as { a: { b: number }; list: number[] };
      expect(read).toEqual({ a: { b: 1 }, list: [1, 2] });
      read.a.b = 99;
      read.list.length = 0;
      expect(await s.get('k')).toEqual({ a: { b: 1 }, list: [1, 2] });
      const [viaMultiget] = (await s.multiget(['k'])) as { a: { b: number } }[];
      viaMultiget.a.b = 42;
      expect(await s.get('k')).toEqual({ a: { b: 1 }, list: [1, 2] });
      await expect(
        s.update('k', (v) => {
          (v as { a: { b: number } }).a.b = 1000;
          throw new Error('reducer failed after mutating its input');
        }),
      ).rejects.toThrow('reducer failed after mutating its input');
      expect(await s.get('k')).toEqual({ a: { b: 1 }, list: [1, 2] });
    }, timeout);

    it('dumps {key: value}, writes the file when given, and loads it into a fresh store', async () => {
      const s = store();
      const data: Record<string, JsonValue> = { 'foo/barła': { deep: [1, { x: null }] }, '[guest]': 'g', n: 5, 'a,b:c': true };
      for (const [k, v] of Object.entries(data)) await s.set(k, v);
      expect(await s.dump()).toEqual(data);
      const dir = await mkdtemp(join(tmpdir(), 'kvs-conformance-dump-'));
      try {
        const file = join(dir, 'dump.json');
        expect(await s.dump(file)).toEqual(data);
        expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(data);
        const other = await fresh();
        expect(await other.keys()).toEqual([]);
        await other.load(file);
        expect(await other.dump()).toEqual(data);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, timeout);

    it('refuses to load a file that is not a dump, writing nothing', async () => {
      const s = store();
      await s.set('existing', 1);
      const dir = await mkdtemp(join(tmpdir(), 'kvs-conformance-load-'));
      try {
        const cases: [string, string][] = [
          ['not-json.json', '{"a": 1,'],
          ['array.json', '[["a", 1]]'],
          ['scalar.json', '42'],
          ['null.json', 'null'],
        ];
        for (const [name, text] of cases) {
          const file = join(dir, name);
          await writeFile(file, text, 'utf8');
          const err = await expectRejectsNamed(s.load(file), 'CorruptValueError');
          expect(err.message).toContain(file);
        }
        // A bad key after good ones: checked before anything is written.
        const emptyKey = join(dir, 'empty-key.json');
        await writeFile(emptyKey, '{"a": 1, "b/c": {"x": 2}, "": 3}', 'utf8');
        const err = await expectRejectsNamed(s.load(emptyKey), 'InvalidKeyError');
        expect(err.message).toContain(emptyKey);
        await expect(s.load(join(dir, 'missing.json'))).rejects.toThrow();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      expect(await s.dump()).toEqual({ existing: 1 });
    }, timeout);

    it('rejects non-JSON values with InvalidValueError and writes nothing', async () => {
      const s = store();
      await s.set('existing', { ok: 1 });
      for (const [label, bad] of nonJsonValues()) {
        const err = await expectRejectsNamed(s.set('fresh', bad as JsonValue), 'InvalidValueError');
        expect(err.message).toContain('"fresh"');
        await expectRejectsNamed(s.set('existing', bad as JsonValue), 'InvalidValueError');
        await expectRejectsNamed(
          s.update('existing', () => bad as JsonValue),
          'InvalidValueError',
        );
        await expectRejectsNamed(s.update('fresh', () => bad as JsonValue), 'InvalidValueError');
        if (bad !== undefined) {
          // (A transaction without `value` leaves its key as it is; any other non-JSON value is an error.)
          await expectRejectsNamed(
            s.transaction('existing', () => ({ value: bad as JsonValue, alsoSet: { 'fresh-also': { fine: true } } })),
            'InvalidValueError',
          );
        }
        await expectRejectsNamed(
          s.transaction('existing', () => ({ value: { fine: true }, alsoSet: { 'fresh-also': bad as JsonValue } })),
          'InvalidValueError',
        );
        if (s.setMany) {
          await expectRejectsNamed(
            s.setMany([
              ['fresh', { fine: true }],
              ['existing', { replaced: true }],
              ['fresh-also', bad as JsonValue],
            ]),
            'InvalidValueError',
          );
        }
        expect([label, await s.get('fresh')]).toEqual([label, undefined]);
        expect([label, await s.get('fresh-also')]).toEqual([label, undefined]);
        expect([label, await s.get('existing')]).toEqual([label, { ok: 1 }]);
      }
      expect(await s.keys()).toEqual(['existing']);
    }, timeout);

    it('rejects an update callback that returns undefined, leaving the key as it was', async () => {
      const s = store();
      await s.set('kept', { n: 1 });
      const err = await expectRejectsNamed(
        s.update('kept', () => undefined as unknown as JsonValue),
        'InvalidValueError',
      );
      expect(err.message).toContain('Cannot store key "kept": the value at $ returned by the update callback is undefined');
      await expectRejectsNamed(
        s.update('never-set', async () => undefined as unknown as JsonValue),
        'InvalidValueError',
      );
      expect(await s.multiget(['kept', 'never-set'])).toEqual([{ n: 1 }, undefined]);
      expect(await s.keys()).toEqual(['kept']);
      expect(await s.update('kept', (v) => v as JsonValue)).toEqual({ n: 1 });
    }, timeout);

    it('rejects keys that are not non-empty strings with InvalidKeyError', async () => {
      const s = store();
      await expectRejectsNamed(s.set('', 1), 'InvalidKeyError');
      await expectRejectsNamed(s.set(42 as unknown as string, 1), 'InvalidKeyError');
      await expectRejectsNamed(s.get(undefined as unknown as string), 'InvalidKeyError');
      // A rejected Promise, never a synchronous throw, also from transaction and update.
      await expectRejectsNamed(s.transaction('', () => ({ value: 1 })), 'InvalidKeyError');
      await expectRejectsNamed(s.update('', () => 1), 'InvalidKeyError');
      expect(await s.keys()).toEqual([]);
    }, timeout);

    it('commits a transaction value together with its alsoSet keys', async () => {
      const s = store();
      const result = await s.transaction('main', (v) => ({
        value: { seen: v === undefined ? 'missing' : 'present' },
        alsoSet: { 'side/one': 1, 'side,two': { nested: ['x'] } },
      }));
      expect(result).toEqual({ value: { seen: 'missing' }, alsoSet: { 'side/one': 1, 'side,two': { nested: ['x'] } } });
      expect(await s.multiget(['main', 'side/one', 'side,two'])).toEqual([{ seen: 'missing' }, 1, { nested: ['x'] }]);
      await s.transaction('main', () => ({ alsoSet: { 'side/one': 2 } }));
      expect(await s.multiget(['main', 'side/one'])).toEqual([{ seen: 'missing' }, 2]);
      await expect(
        s.transaction('main', () => {
          throw new Error('callback failed');
        }),
      ).rejects.toThrow('callback failed');
      expect(await s.get('main')).toEqual({ seen: 'missing' });
      expect(await s.update('main', () => 'updated')).toBe('updated');
    }, timeout);

    it(`never loses an increment with ${concurrent} concurrent updates of one key`, async () => {
      const s = store();
      const returned = await Promise.all(
        Array.from({ length: concurrent }, () =>
          s.update('counter', async (v) => {
            await sleep(Math.random() * 2);
            return increment(v);
          }),
        ),
      );
      expect(await s.get('counter')).toBe(concurrent);
      expect([...returned].sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: concurrent }, (_, i) => i + 1));
    }, timeout);

    it('runs transactions issued together on one key one after another, past failing and non-writing ones', async () => {
      const s = store();
      const seen = new Map<number, unknown>();
      const issued = Array.from({ length: 30 }, (_, i) =>
        s
          .transaction('queue', (v) => {
            seen.set(i, v); // (the last call counts: a store may run a callback again)
            if (i % 10 === 3) throw new Error(`callback ${i} failed`);
            if (i % 10 === 6) return {}; // writes nothing
            return { value: i, alsoSet: { 'queue-side': { i } } };
          })
          .then(
            () => 'ok',
            (err: Error) => err.message,
          ),
      );
      const outcomes = await Promise.all(issued);
      expect(outcomes.filter((o) => o !== 'ok')).toEqual(['callback 3 failed', 'callback 13 failed', 'callback 23 failed']);
      // Each callback saw what the last writing transaction before it wrote.
      let last: number | undefined;
      for (let i = 0; i < 30; i++) {
        expect([i, seen.get(i)]).toEqual([i, last]);
        if (i % 10 !== 3 && i % 10 !== 6) last = i;
      }
      expect(await s.multiget(['queue', 'queue-side'])).toEqual([29, { i: 29 }]);
      // A long queue of transactions that write nothing, waiting behind a slow one, settles too
      // (no stack frames per entry).
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const slow = s.transaction('queue', async () => {
        await gate;
        return {};
      });
      const quiet = Array.from({ length: queued }, () => s.transaction('queue', () => ({})));
      open();
      await slow;
      expect(await Promise.all(quiet)).toHaveLength(queued);
      expect(await s.update('queue', (v) => (v as number) + 1)).toBe(30);
    }, timeout);

    // For a store that offers it (Redis): the same contract as `transaction`, with callbacks. A
    // store without it must say so: `undefined` (a member, never a read of the key of that name).
    const itWithCallbacks = (title: string, fn: (s: KVStore) => Promise<void>) =>
      it(`transactionWithCallbacks (or undefined): ${title}`, async () => {
        const s = store();
        if (typeof s.transactionWithCallbacks === 'function') await fn(s);
        else expect(s.transactionWithCallbacks).toBeUndefined();
      }, timeout);

    itWithCallbacks('commits like transaction, passing arg to the callback and back, once, never before returning', async (s) => {
      const seen: unknown[] = [];
      const first = await viaCallbacks(s, 'cb', (v, arg) => {
        seen.push([v, arg]);
        return { value: { n: 1, arg }, alsoSet: { 'cb-side': arg } };
      }, 'first');
      expect(first.ok).toEqual({ value: { n: 1, arg: 'first' }, alsoSet: { 'cb-side': 'first' } });
      expect([first.arg, first.early]).toEqual(['first', false]);
      const second = await viaCallbacks(s, 'cb', (v, arg: { by: number }) => ({ value: { n: (v as { n: number }).n + arg.by } }), { by: 2 });
      expect([second.ok, second.arg, second.early]).toEqual([{ value: { n: 3 } }, { by: 2 }, false]);
      // A transaction that writes nothing reports its result too.
      const quiet = await viaCallbacks(s, 'cb', () => ({}), 3);
      expect([quiet.ok, quiet.arg, quiet.early]).toEqual([{}, 3, false]);
      expect(seen).toEqual([[undefined, 'first']]);
      expect(await s.multiget(['cb', 'cb-side'])).toEqual([{ n: 3 }, 'first']);
      await sleep(10);
      expect([first.calls(), second.calls(), quiet.calls()]).toEqual([1, 1, 1]);
    });

    itWithCallbacks('reports every failure to onError (never thrown), with arg, and writes nothing', async (s) => {
      await s.set('cbf', 1);
      const outcomes = [
        await viaCallbacks(s, 'cbf', () => {
          throw new Error('sync failure');
        }, 'a'),
        await viaCallbacks(s, 'cbf', async () => {
          throw new Error('async failure');
        }, 'b'),
        await viaCallbacks(s, 'cbf', () => ({ value: { n: NaN } }), 'c'),
        await viaCallbacks(s, 'cbf', () => ({ value: 2, alsoSet: { '': 1 } }), 'd'),
        await viaCallbacks(s, '', () => ({ value: 2 }), 'e'),
      ];
      expect(outcomes.map((o) => [o.ok, (o.err as Error).message ?? o.err, o.arg, o.early])).toEqual([
        [undefined, 'sync failure', 'a', false],
        [undefined, 'async failure', 'b', false],
        [undefined, expect.any(String), 'c', false],
        [undefined, expect.any(String), 'd', false],
        [undefined, expect.any(String), 'e', false],
      ]);
      expect(outcomes.slice(2).map((o) => (o.err as Error).name)).toEqual(['InvalidValueError', 'InvalidKeyError', 'InvalidKeyError']);
      expect(await s.get('cbf')).toBe(1);
      expect(await s.keys()).toEqual(['cbf']);
      await s.close();
      let ran = false;
      const closed = await viaCallbacks(s, 'cbf', () => {
        ran = true;
        return { value: 3 };
      }, 'f');
      expect([(closed.err as Error).name, closed.arg, closed.early, ran]).toEqual(['StoreClosedError', 'f', false, false]);
      await sleep(10);
      expect(outcomes.concat(closed).map((o) => o.calls())).toEqual([1, 1, 1, 1, 1, 1]);
    });

    itWithCallbacks('shares per-key order with transaction: issued together, each sees the one before', async (s) => {
      const seen: unknown[] = [];
      const bump = (v: JsonValue | undefined, i: number): TransactionResult => {
        seen.push(v);
        return { value: i };
      };
      const issued: Promise<unknown>[] = [];
      for (let i = 1; i <= 20; i++) issued.push(i % 2 ? viaCallbacks(s, 'cbo', bump, i) : s.transaction('cbo', (v) => bump(v, i)));
      await Promise.all(issued);
      expect(seen).toEqual([undefined, ...Array.from({ length: 19 }, (_, i) => i + 1)]);
      expect(await s.get('cbo')).toBe(20);
    });

    it('updates different keys concurrently without mixing them up', async () => {
      const s = store();
      const keys = ['k/1', 'k/2', 'k,3', 'k😀4'];
      await Promise.all(keys.flatMap((k) => Array.from({ length: 10 }, () => s.update(k, increment))));
      expect(await s.multiget(keys)).toEqual([10, 10, 10, 10]);
    }, timeout);

    it('rejects use after close', async () => {
      const s = store();
      await s.set('k', 1);
      await s.close();
      await expect(s.get('k')).rejects.toThrow();
      await expect(s.set('k', 2)).rejects.toThrow();
      // Rejected Promises, never synchronous throws (a caller's .catch() must see them).
      let calls = 0;
      await expect(s.transaction('k', () => ({ value: ++calls }))).rejects.toThrow();
      await expect(s.update('k', () => ++calls)).rejects.toThrow();
      expect(calls).toBe(0);
    }, timeout);

    if (options.reopen) {
      const reopen = options.reopen;
      it('shares data with a second instance on the same storage', async () => {
        const s = store();
        const other = await reopen(s);
        opened.push(other);
        await s.set('shared/key', { from: 'first' });
        expect(await other.get('shared/key')).toEqual({ from: 'first' });
        await other.set('shared/key', { from: 'second' });
        expect(await s.get('shared/key')).toEqual({ from: 'second' });
        expect(await other.keys()).toEqual(['shared/key']);
      }, timeout);

      it(`never loses an increment with ${concurrent} concurrent updates through two instances`, async () => {
        const s = store();
        const other = await reopen(s);
        opened.push(other);
        await Promise.all(Array.from({ length: concurrent }, (_, i) => (i % 2 ? s : other).update('shared-counter', increment)));
        expect(await s.get('shared-counter')).toBe(concurrent);
        expect(await other.get('shared-counter')).toBe(concurrent);
      }, timeout);
    }

    if (options.sibling) {
      const sibling = options.sibling;
      it('keeps keys() and clear() to its own namespace: a sibling store keeps its keys', async () => {
        const s = store();
        const other = await sibling(s);
        opened.push(other);
        for (const k of ['shared', 'dir/shared', '😀']) {
          await s.set(k, 'mine');
          await other.set(k, 'theirs');
        }
        await other.set('only-theirs', 1);
        expect((await s.keys()).sort()).toEqual(['dir/shared', 'shared', '😀']);
        await s.clear();
        expect(await s.keys()).toEqual([]);
        expect(await s.multiget(['shared', 'only-theirs'])).toEqual([undefined, undefined]);
        expect((await other.keys()).sort()).toEqual(['dir/shared', 'only-theirs', 'shared', '😀']);
        expect(await other.multiget(['shared', 'dir/shared', '😀', 'only-theirs'])).toEqual(['theirs', 'theirs', 'theirs', 1]);
        await s.set('after', 2);
        await other.clear();
        expect(await s.keys()).toEqual(['after']);
      }, timeout);
    }

    if (options.foreign) {
      const foreign = options.foreign;
      it('clear() leaves a foreign key of the same storage alone', async () => {
        const s = store();
        const foreignKey = `conformance-foreign:${process.pid}:${Date.now()}:${Math.random().toString(36).slice(2)}`;
        await foreign.write(foreignKey, 'not written by a store');
        try {
          await s.set('mine', 1);
          await s.clear();
          expect(await s.keys()).toEqual([]);
          expect(await foreign.read(foreignKey)).toBe('not written by a store');
        } finally {
          await foreign.remove?.(foreignKey);
        }
      }, timeout);
    }

    if (options.ttl) {
      const waitMs = options.ttl.expiresWithinMs;
      it('expires keys written by set, update and alsoSet', async () => {
        const s = store();
        await s.set('ttl/set', 1);
        await s.update('ttl/update', increment);
        await s.transaction('ttl/main', () => ({ value: 'main', alsoSet: { 'ttl/also': 'also' } }));
        expect(await s.multiget(['ttl/set', 'ttl/update', 'ttl/main', 'ttl/also'])).toEqual([1, 1, 'main', 'also']);
        await sleep(waitMs);
        expect(await s.multiget(['ttl/set', 'ttl/update', 'ttl/main', 'ttl/also'])).toEqual([undefined, undefined, undefined, undefined]);
        expect(await s.keys('ttl/')).toEqual([]);
      }, timeout + waitMs);
    }

    options.extraCases?.(store);
  });
}
