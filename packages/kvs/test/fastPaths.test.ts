import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithRedis, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import {
  assertJsonValue,
  cloneJson,
  cloneValidJson,
  createRedisClient,
  EphemeralRedisKVS,
  FilesystemKVS,
  InMemoryKVS,
  InvalidKeyError,
  InvalidValueError,
  PersistentRedisKVS,
  type JsonValue,
  type KVStore,
  type TransactionResult,
} from '@learning-observer/kvs';

const quiet = { warn: () => undefined };

describe('assertJsonValue / cloneJson fast paths', () => {
  test('valid values pass, invalid ones still name the offending path', () => {
    expect(() => assertJsonValue('k', { a: [1, 'x', null, true, { b: {} }] })).not.toThrow();
    expect(() => assertJsonValue('k', { a: [1, { when: undefined }] })).toThrow('$.a[1].when');
    expect(() => assertJsonValue('k', { a: NaN })).toThrow(InvalidValueError);
    expect(() => assertJsonValue('k', { m: new Map() })).toThrow('is a Map instance');
    const cyclic: Record<string, unknown> = { a: {} };
    (cyclic.a as Record<string, unknown>).self = cyclic;
    expect(() => assertJsonValue('k', cyclic)).toThrow('circular');
  });

  test('values nested deeper than the fast check still validate', () => {
    let deep: JsonValue = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(() => assertJsonValue('k', deep)).not.toThrow();
    let bad: unknown = undefined;
    for (let i = 0; i < 200; i++) bad = [bad];
    expect(() => assertJsonValue('k', bad)).toThrow('is undefined');
  });

  test('cloneJson copies deeply and keeps a "__proto__" key as plain data', () => {
    const value = JSON.parse('{"a":[1,{"b":2}],"__proto__":{"x":1}}') as JsonValue;
    const copy = cloneJson(value) as Record<string, unknown>;
    expect(copy).toEqual(value);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(copy, '__proto__')).toBe(true);
    ((copy.a as unknown[])[1] as Record<string, number>).b = 99;
    expect(((value as Record<string, unknown[]>).a[1] as Record<string, number>).b).toBe(2);
    expect(cloneJson(undefined)).toBeUndefined();
    expect(cloneJson('s')).toBe('s');
  });

  test('cloneValidJson validates and copies in one walk: a copy, or the error naming the path', () => {
    const value = JSON.parse('{"a":[1,{"b":2}],"bins":{"1699999200":3},"__proto__":{"x":1}}') as JsonValue;
    const copy = cloneValidJson('k', value) as Record<string, unknown>;
    expect(copy).toEqual(value);
    expect(copy).not.toBe(value);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(copy, '__proto__')).toBe(true);
    ((copy.a as unknown[])[1] as Record<string, number>).b = 99;
    expect(((value as Record<string, unknown[]>).a[1] as Record<string, number>).b).toBe(2);
    expect(() => cloneValidJson('k', { a: [1, { when: undefined }] })).toThrow('$.a[1].when');
    expect(() => cloneValidJson('k', { a: Infinity })).toThrow(InvalidValueError);
    expect(() => cloneValidJson('k', [1, , 3])).toThrow('$[1] is undefined'); // a hole
    expect(() => cloneValidJson('k', { d: new Date(0) })).toThrow('is a Date instance');
    let deep: JsonValue = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(cloneValidJson('k', deep)).toEqual(deep); // deeper than the fast walk: still copied
    let bad: unknown = undefined;
    for (let i = 0; i < 200; i++) bad = [bad];
    expect(() => cloneValidJson('k', bad)).toThrow('is undefined');
  });

  test('both copies keep every key whether or not it is an array index (same names, same order, same values)', () => {
    // Array indices (copied by number) next to names that only look numeric (copied by name):
    // a leading zero, an exponent, a sign, a fraction, 2^32 - 1 (not an index) and longer digit runs.
    const text =
      '{"1699999200":1.5,"0":0,"4294967294":2,"4294967295":3,"01":4,"1e3":5,"-1":6,"1.5":7,"12345678901":8,"":9,' +
      '"x":{"7":[{"00":1,"10":2}]},"__proto__":{"3":1}}';
    const value = JSON.parse(text) as Record<string, JsonValue>;
    for (const copy of [cloneJson(value), cloneValidJson('k', value)] as Record<string, JsonValue>[]) {
      expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
      expect(Object.keys(copy)).toEqual(Object.keys(value));
      expect(copy['01']).toBe(4);
      expect(copy['1']).toBeUndefined(); // "01" did not become 1
      expect(copy['1000']).toBeUndefined(); // nor "1e3" 1000
      expect(copy[4294967295]).toBe(3);
      expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
      expect(copy.x).not.toBe(value.x);
    }
  });
});

async function setManyCases(store: KVStore): Promise<void> {
  await store.setMany!([
    ['a', { n: 1 }],
    ['b', [1, 2]],
  ]);
  await store.setMany!(new Map<string, JsonValue>([['c', 'text']]));
  expect(await store.multiget(['a', 'b', 'c'])).toEqual([{ n: 1 }, [1, 2], 'text']);
  // One bad entry: nothing is written.
  await expect(store.setMany!([['d', 1], ['e', undefined as unknown as JsonValue]])).rejects.toThrow(InvalidValueError);
  await expect(store.setMany!([['', 1]])).rejects.toThrow(InvalidKeyError);
  expect(await store.get('d')).toBeUndefined();
  await store.setMany!([]);
  // Values are copied: changing the written object afterwards changes nothing.
  const value = { n: 5 };
  await store.setMany!([['a', value]]);
  value.n = 6;
  expect(await store.get('a')).toEqual({ n: 5 });
}

describe('setMany', () => {
  test('InMemoryKVS', async () => {
    await setManyCases(new InMemoryKVS());
  });

  test('FilesystemKVS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lo-setmany-'));
    try {
      const store = new FilesystemKVS({ path: dir });
      await setManyCases(store);
      await store.close();
      const reopened = new FilesystemKVS({ path: dir });
      expect(await reopened.get('c')).toBe('text');
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('InMemoryKVS.eagerTransaction', () => {
  test('commits synchronously when the key is idle and fn is synchronous', () => {
    const store = new InMemoryKVS();
    const first = store.eagerTransaction('n', (n) => ({ value: ((n as number | undefined) ?? 0) + 1, alsoSet: { m: 'x' } }));
    expect(first).toEqual({ value: 1, alsoSet: { m: 'x' } });
    const second = store.eagerTransaction('n', (n) => ({ value: (n as number) + 1 }));
    expect(second).toEqual({ value: 2 });
    return expect(store.multiget(['n', 'm'])).resolves.toEqual([2, 'x']);
  });

  test('waits behind a running transaction of the same key, and an async fn locks the key', async () => {
    const store = new InMemoryKVS();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = store.transaction('n', async (n) => {
      await gate;
      return { value: ((n as number | undefined) ?? 0) + 10 };
    });
    const queued = store.eagerTransaction('n', (n) => ({ value: (n as number) + 1 }));
    expect(queued).toBeInstanceOf(Promise);
    release();
    await slow;
    expect(await queued).toEqual({ value: 11 });

    const asyncFn = store.eagerTransaction('n', async (n) => ({ value: (n as number) * 2 }));
    const after = store.eagerTransaction('n', (n) => ({ value: (n as number) + 1 }));
    expect(asyncFn).toBeInstanceOf(Promise);
    expect(after).toBeInstanceOf(Promise);
    await Promise.all([asyncFn, after]);
    expect(await store.get('n')).toBe(23);
  });

  test('arg reaches fn as its second argument, on the synchronous path and behind a running transaction', async () => {
    const store = new InMemoryKVS();
    const add = (n: JsonValue | undefined, by: number) => ({ value: ((n as number | undefined) ?? 0) + by });
    expect(store.eagerTransaction('n', add, 5)).toEqual({ value: 5 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = store.transaction('n', async (n) => {
      await gate;
      return { value: (n as number) * 10 };
    });
    const queued = store.eagerTransaction('n', add, 7);
    expect(queued).toBeInstanceOf(Promise);
    release();
    await slow;
    expect(await queued).toEqual({ value: 57 });
    expect(await store.get('n')).toBe(57);
  });

  test('a valid value with an invalid alsoSet value or key writes nothing at all', async () => {
    const store = new InMemoryKVS();
    expect(() => store.eagerTransaction('n', () => ({ value: { ok: 1 }, alsoSet: { e: { ok: 1 }, f: { bad: NaN } } }))).toThrow('$.bad');
    expect(() => store.eagerTransaction('n', () => ({ value: { ok: 1 }, alsoSet: { '': { ok: 1 } } }))).toThrow(InvalidKeyError);
    await expect(store.transaction('n', () => ({ value: 1, alsoSet: { e: 2, f: undefined as unknown as JsonValue } }))).rejects.toThrow(InvalidValueError);
    expect(await store.keys()).toEqual([]);
  });

  test('synchronous errors are thrown and write nothing; stored copies are independent', () => {
    const store = new InMemoryKVS();
    expect(() => store.eagerTransaction('n', () => ({ value: undefined, alsoSet: { x: NaN } }) as TransactionResult)).toThrow(InvalidValueError);
    expect(() =>
      store.eagerTransaction('n', () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    const state = { count: 1 };
    store.eagerTransaction('i', () => ({ value: state, alsoSet: { e: state } }));
    state.count = 99;
    return expect(store.multiget(['i', 'e', 'n', 'x'])).resolves.toEqual([{ count: 1 }, { count: 1 }, undefined, undefined]);
  });
});

describeWithRedis('Redis setMany and transactions without a GET', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server.stop());

  test('setMany on both Redis backends (MSET; one script with TTLs)', async () => {
    const persistent = new PersistentRedisKVS({ prefix: 'sm:', connection: server.connection, logger: quiet });
    await setManyCases(persistent);
    await persistent.close();
    const ephemeral = new EphemeralRedisKVS({ expiry: 100, prefix: 'se:', connection: server.connection });
    await setManyCases(ephemeral);
    await ephemeral.close();
    const client = createRedisClient(server.connection);
    await client.connect();
    try {
      const ttl = await client.ttl('se:b');
      expect(ttl).toBeGreaterThan(90);
      expect(ttl).toBeLessThanOrEqual(100);
      expect(await client.ttl('sm:b')).toBe(-1);
    } finally {
      client.disconnect();
    }
  });

  test('an update from another writer between two transactions is never lost', async () => {
    const store = new PersistentRedisKVS({ prefix: 'tx:', connection: server.connection, logger: quiet });
    const other = new PersistentRedisKVS({ prefix: 'tx:', connection: server.connection, logger: quiet });
    const client = createRedisClient(server.connection);
    await client.connect();
    try {
      const add = (s: KVStore, n: number) => s.update('n', (v) => ((v as number | undefined) ?? 0) + n);
      expect(await add(store, 1)).toBe(1);
      expect(await add(other, 10)).toBe(11); // store's remembered text ("1") is now stale
      expect(await add(store, 100)).toBe(111);
      await client.set('tx:n', '1000'); // a raw write behind both stores' backs
      expect(await add(store, 1)).toBe(1001);
      await client.del('tx:n');
      expect(await add(store, 5)).toBe(5);
      await store.set('n', 7);
      expect(await add(store, 1)).toBe(8);
      await store.setMany!([['n', 20]]);
      expect(await add(store, 1)).toBe(21);
      await store.remove('n');
      expect(await add(store, 2)).toBe(2);
      // Concurrent updaters in two stores: nothing is lost.
      await Promise.all(Array.from({ length: 50 }, (_, i) => add(i % 2 ? store : other, 1)));
      expect(await store.get('n')).toBe(52);
      // Updates of many keys issued together go out as one script call; after SCRIPT FLUSH its
      // NOSCRIPT reply is answered with EVAL (which reloads the script).
      await client.script('FLUSH');
      await Promise.all(Array.from({ length: 200 }, (_, i) => add(i % 3 ? store : other, i)));
      const keys = Array.from({ length: 20 }, (_, k) => `k${k}`);
      await Promise.all(Array.from({ length: 400 }, (_, i) => store.update(keys[i % 20], (v) => ((v as number | undefined) ?? 0) + 1)));
      expect(await store.get('n')).toBe(52 + (199 * 200) / 2);
      expect(await store.multiget(keys)).toEqual(keys.map(() => 20));
    } finally {
      client.disconnect();
      await store.close();
      await other.close();
    }
  });
});
