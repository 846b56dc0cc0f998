import { describeWithRedis, useRedisStores } from '@learning-observer/kvs-test-suite';
import {
  ConflictError,
  CorruptValueError,
  createRedisClient,
  describeRedisTarget,
  EphemeralRedisKVS,
  escapeRedisGlob,
  InvalidValueError,
  KVSError,
  PersistentRedisKVS,
  resolveRedisSettings,
  StoreClosedError,
  UnscopedClearError,
  type JsonValue,
  type TransactionResult,
} from '@learning-observer/kvs';

const quiet = { warn: () => undefined };

describe('redis connection settings (no server needed)', () => {
  test('defaults, url parsing and explicit overrides', () => {
    expect(resolveRedisSettings({})).toEqual({ host: 'localhost', port: 6379, db: 0, connectTimeoutMs: 3000, commandTimeoutMs: 5000 });
    expect(resolveRedisSettings({ url: 'rediss://u:p%40ss@example.org:6380/4' })).toEqual({
      host: 'example.org',
      port: 6380,
      username: 'u',
      password: 'p@ss',
      db: 4,
      tls: {},
      connectTimeoutMs: 3000,
      commandTimeoutMs: 5000,
    });
    expect(resolveRedisSettings({ url: 'redis://example.org/2', db: 5, port: 7000 })).toMatchObject({ host: 'example.org', port: 7000, db: 5 });
    expect(() => resolveRedisSettings({ url: 'http://x' })).toThrow('must start with redis:// or rediss://');
  });

  test('describeRedisTarget never shows the password', () => {
    expect(describeRedisTarget({})).toBe('localhost:6379/0');
    expect(describeRedisTarget({ host: 'cache', password: 'secret', db: 3 })).toBe('cache:6379/3');
    expect(describeRedisTarget({ url: 'redis://:secret@h:1234/1' })).toBe('h:1234/1');
  });

  test('escapeRedisGlob escapes * ? [ ] and backslash', () => {
    expect(escapeRedisGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
  });

  test('EphemeralRedisKVS requires a whole number of seconds', () => {
    expect(() => new EphemeralRedisKVS({} as never)).toThrow(/needs `expiry`/);
    expect(() => new EphemeralRedisKVS({ expiry: 0 })).toThrow(/needs `expiry`/);
  });
});

describeWithRedis('Redis backends against a real redis-server', () => {
  const redis = useRedisStores('t');
  const { uniquePrefix, track } = redis;
  const persistent = (prefix?: string) => redis.persistent({ prefix });
  const ephemeral = (expiry: number, prefix?: string) => redis.ephemeral(expiry, { prefix });

  test('values are JSON strings under prefix + key; keys() strips the prefix', async () => {
    const store = persistent('ns:');
    await store.set('a/b', { x: [1, 'ł', null] });
    expect(await redis.raw.get('ns:a/b')).toBe('{"x":[1,"ł",null]}');
    expect(await store.keys()).toEqual(['a/b']);
    expect(await store.get('a/b')).toEqual({ x: [1, 'ł', null] });
    expect(await store.get('missing')).toBeUndefined();
  });

  test('glob metacharacters in prefix and filter match literally', async () => {
    const store = persistent('p*[x]?\\:');
    await redis.raw.set('p-anything:k', '1'); // would match an unescaped p*
    await redis.raw.set('pzzz[x]?\\:k', '1');
    await store.set('k*1', 1);
    await store.set('k?2', 2);
    await store.set('kx3', 3);
    expect(await store.keys()).toEqual(['k*1', 'k?2', 'kx3']);
    expect(await store.keys('k*')).toEqual(['k*1']);
    expect(await store.keys('k?')).toEqual(['k?2']);
    await store.clear();
    expect(await redis.raw.get('p-anything:k')).toBe('1');
    expect(await redis.raw.get('pzzz[x]?\\:k')).toBe('1');
  });

  test('clear() scoping: two prefixes and a foreign key in the same db', async () => {
    const a = persistent('scopeA:');
    const b = persistent('scopeB:');
    await a.set('k', 'a');
    await b.set('k', 'b');
    await redis.raw.set('foreign', 'x');
    await a.clear();
    expect(await a.keys()).toEqual([]);
    expect(await b.get('k')).toBe('b');
    expect(await redis.raw.get('foreign')).toBe('x');
    await b.clear();
    expect(await redis.raw.get('foreign')).toBe('x');
    expect(await redis.raw.exists('scopeA:k', 'scopeB:k')).toBe(0);
    await redis.raw.del('foreign');
  });

  test('without a prefix clear() refuses (UnscopedClearError, nothing removed) unless given { wholeDatabase: true }', async () => {
    const store = track(new PersistentRedisKVS({ connection: { ...redis.server.connection, db: 6 }, logger: quiet }));
    const eph = track(new EphemeralRedisKVS({ expiry: 100, connection: { ...redis.server.connection, db: 6 } }));
    expect(store.prefix).toBe('');
    await store.set('a', 1);
    await store.set('b/c', 2);
    await redis.raw.set('db0-key', 'stays');
    const db6 = createRedisClient({ ...redis.server.connection, db: 6 });
    try {
      await db6.connect();
      await db6.set('foreign-in-db-6', 'not ours');
      // Keys are byte-identical to the Python original's: no prefix at all.
      expect(await db6.get('b/c')).toBe('2');
      expect((await store.keys()).sort()).toEqual(['a', 'b/c', 'foreign-in-db-6']);
      for (const s of [store, eph]) {
        const err = await s.clear().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UnscopedClearError);
        expect(err).toBeInstanceOf(KVSError);
        expect((err as Error).message).toBe(
          `Refusing to clear this ${s.type} store: it has no prefix, so clear() would remove every key of Redis db 127.0.0.1:${redis.server.port}/6, ` +
            'including keys of other programs and stores. Set "prefix:" for this backend in creds.yaml (e.g. prefix: "lo:"; ' +
            'keys written without a prefix then stay where they are), or, if that db belongs to this store alone, call clear({ wholeDatabase: true }).',
        );
        await expect(s.clear({ wholeDatabase: false })).rejects.toThrow(UnscopedClearError);
      }
      expect(await db6.dbsize()).toBe(3);
      await store.clear({ wholeDatabase: true });
      expect(await db6.dbsize()).toBe(0);
      expect(await redis.raw.get('db0-key')).toBe('stays');
    } finally {
      db6.disconnect();
      await redis.raw.del('db0-key');
    }
  });

  test('with a prefix, clear({ wholeDatabase: true }) still removes only the prefixed keys', async () => {
    const store = persistent('scoped:');
    await store.set('k', 1);
    await redis.raw.set('outside', 'x');
    await store.clear({ wholeDatabase: true });
    expect(await store.keys()).toEqual([]);
    expect(await redis.raw.get('outside')).toBe('x');
    await redis.raw.del('outside');
  });

  test('keys() uses SCAN, multiget uses MGET, clear() uses SCAN + UNLINK: never KEYS nor FLUSHDB/FLUSHALL', async () => {
    const commandCounts = async (): Promise<Record<string, number>> => {
      const info = await redis.raw.info('commandstats');
      const counts: Record<string, number> = {};
      for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) counts[m[1]] = Number(m[2]);
      return counts;
    };
    for (const store of [persistent(), ephemeral(100)]) {
      await store.set('a', 1);
      await store.set('b/c', 2);
      await redis.raw.config('RESETSTAT');
      expect((await store.keys()).sort()).toEqual(['a', 'b/c']);
      expect(await store.multiget(['a', 'missing', 'b/c'])).toEqual([1, undefined, 2]);
      await store.clear();
      expect(await store.keys()).toEqual([]);
      const counts = await commandCounts();
      expect(counts.scan).toBeGreaterThanOrEqual(3);
      expect(counts.mget).toBe(1);
      expect(counts.unlink).toBe(1);
      expect([counts.keys, counts.flushdb, counts.flushall, counts.get]).toEqual([undefined, undefined, undefined, undefined]);
    }
  });

  test('multiget spans several MGET batches and stays aligned', async () => {
    const store = persistent();
    const keys = Array.from({ length: 2500 }, (_, i) => `k${i}`);
    const pipeline = redis.raw.pipeline();
    keys.forEach((k, i) => {
      if (i % 3 !== 0) pipeline.set(store.prefix + k, JSON.stringify(i));
    });
    await pipeline.exec();
    const values = await store.multiget(keys);
    expect(values).toHaveLength(2500);
    values.forEach((v, i) => expect(v).toBe(i % 3 === 0 ? undefined : i));
    expect((await store.keys()).length).toBe(2500 - 834);
    await store.clear();
    expect(await store.keys()).toEqual([]);
  });

  test('a foreign non-JSON value or another Redis type is a CorruptValueError', async () => {
    const store = persistent('corrupt:');
    await redis.raw.set('corrupt:text', 'not json');
    await redis.raw.hset('corrupt:hash', 'f', 'v');
    await expect(store.get('text')).rejects.toThrow(CorruptValueError);
    await expect(store.get('hash')).rejects.toThrow(CorruptValueError);
    await expect(store.get('hash')).rejects.toThrow(/non-string Redis value/);
    await redis.raw.del('corrupt:text', 'corrupt:hash');
  });

  test('non-JSON values are rejected before anything is written', async () => {
    const store = persistent();
    await expect(store.set('k', { a: undefined } as unknown as JsonValue)).rejects.toThrow(InvalidValueError);
    await expect(store.update('k', () => NaN)).rejects.toThrow(InvalidValueError);
    await expect(store.transaction('k', () => ({ value: 1, alsoSet: { other: (() => 1) as unknown as JsonValue } }))).rejects.toThrow(
      InvalidValueError,
    );
    expect(await redis.raw.exists(store.prefix + 'k', store.prefix + 'other')).toBe(0);
  });

  test('transaction writes the key and alsoSet keys together; value omitted leaves the key', async () => {
    const store = persistent();
    const result = await store.transaction('main', (cur) => ({ value: { n: 1 }, alsoSet: { side: cur === undefined ? 'was missing' : 'x' } }));
    expect(result).toEqual({ value: { n: 1 }, alsoSet: { side: 'was missing' } });
    expect(await store.multiget(['main', 'side'])).toEqual([{ n: 1 }, 'was missing']);
    await store.transaction('main', () => ({ alsoSet: { side: 2 } }));
    expect(await store.multiget(['main', 'side'])).toEqual([{ n: 1 }, 2]);
  });

  test('concurrent updaters on two connections never lose an update', async () => {
    const prefix = uniquePrefix();
    const a = persistent(prefix);
    const b = persistent(prefix);
    const inc = (s: PersistentRedisKVS) => s.update('count', (v) => ((v as number | undefined) ?? 0) + 1);
    await Promise.all(Array.from({ length: 100 }, (_, i) => inc(i % 2 ? a : b)));
    expect(await a.get('count')).toBe(100);
  });

  test('a key changed by someone else on every attempt ends in ConflictError after maxRetries', async () => {
    const prefix = uniquePrefix();
    const store = redis.persistent({ prefix, maxRetries: 3 });
    let calls = 0;
    const err = await store
      .update('hot', async (v) => {
        calls++;
        await redis.raw.set(prefix + 'hot', JSON.stringify(calls * 100)); // a rival write after our read
        return ((v as number | undefined) ?? 0) + 1;
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).attempts).toBe(3);
    expect(calls).toBe(3);
    expect(await store.get('hot')).toBe(300);
  });

  test('a value changed behind the store\'s back is read again, without using up a retry', async () => {
    const prefix = uniquePrefix();
    const store = redis.persistent({ prefix, maxRetries: 1 });
    await store.update('n', () => 1);
    await redis.raw.set(prefix + 'n', '41'); // another writer; the store's remembered text is now stale
    const seen: unknown[] = [];
    expect(
      await store.update('n', (v) => {
        seen.push(v);
        return (v as number) + 1;
      }),
    ).toBe(42);
    expect(seen).toEqual([1, 41]);
    expect(await redis.raw.get(prefix + 'n')).toBe('42');
  });

  test('a synchronous transaction callback on a remembered key: stale text read again, errors reject, the key is never left locked', async () => {
    const prefix = uniquePrefix();
    const store = redis.persistent({ prefix, maxRetries: 1 });
    await store.transaction('n', () => ({ value: 1, alsoSet: { copy: 1 } }));
    await redis.raw.set(prefix + 'n', '41'); // the remembered text is now stale
    const seen: unknown[] = [];
    const add = (v: JsonValue | undefined) => {
      seen.push(v);
      return { value: (v as number) + 1, alsoSet: { copy: (v as number) + 1 } };
    };
    expect(await store.transaction('n', add)).toEqual({ value: 42, alsoSet: { copy: 42 } });
    expect(seen).toEqual([1, 41]);
    expect(await redis.raw.mget(prefix + 'n', prefix + 'copy')).toEqual(['42', '42']);

    // A callback that throws, and one whose result is not a transaction result, reject; nothing is written.
    await expect(store.transaction('n', () => { throw new Error('callback failed'); })).rejects.toThrow('callback failed');
    await expect(store.transaction('n', () => null as unknown as TransactionResult)).rejects.toThrow();
    // A result without value writes nothing and keeps the remembered text.
    expect(await store.transaction('n', () => ({}))).toEqual({});
    expect(await redis.raw.get(prefix + 'n')).toBe('42');
    // The key is free again: the next transaction starts from the remembered text (no GET).
    await redis.raw.config('RESETSTAT');
    expect((await store.transaction('n', (v) => ({ value: (v as number) + 1 }))).value).toBe(43);
    expect(await redis.raw.info('commandstats')).not.toMatch(/cmdstat_get:/);
  });

  test('the compare-and-set script is loaded again after SCRIPT FLUSH', async () => {
    const store = persistent();
    await store.update('k', () => 1);
    await redis.raw.script('FLUSH');
    expect(await store.update('k', (v) => (v as number) + 1)).toBe(2);
  });

  test('ephemeral: set, update, transaction and alsoSet writes all carry the TTL', async () => {
    const store = ephemeral(100);
    expect(store.type).toBe('redis_ephemeral');
    await store.set('s', 1);
    await store.update('u', () => 1);
    await store.transaction('t', () => ({ value: 1, alsoSet: { also: 2 } }));
    for (const k of ['s', 'u', 't', 'also']) {
      const pttl = await redis.raw.pttl(store.prefix + k);
      expect(pttl).toBeGreaterThan(90_000);
      expect(pttl).toBeLessThanOrEqual(100_000);
    }
  });

  test('ephemeral keys expire after `expiry` seconds', async () => {
    const store = ephemeral(1);
    await store.set('gone', 'soon');
    await store.update('gone2', () => 'soon');
    expect(await store.get('gone')).toBe('soon');
    await new Promise((r) => setTimeout(r, 2100));
    expect(await store.multiget(['gone', 'gone2'])).toEqual([undefined, undefined]);
    expect(await store.keys()).toEqual([]);
  });

  test('persistent: no TTL, and a write removes an existing TTL', async () => {
    const store = persistent();
    expect(store.type).toBe('redis');
    await redis.raw.set(store.prefix + 'k', '1', 'EX', 100);
    await redis.raw.set(store.prefix + 'u', '1', 'EX', 100);
    await store.set('k', 2);
    await store.update('u', (v) => (v as number) + 1);
    expect(await redis.raw.pttl(store.prefix + 'k')).toBe(-1);
    expect(await redis.raw.pttl(store.prefix + 'u')).toBe(-1);
    expect(await store.multiget(['k', 'u'])).toEqual([2, 2]);
  });

  test('db selection is honoured', async () => {
    const store = track(new PersistentRedisKVS({ prefix: 'dbtest:', connection: { ...redis.server.connection, db: 3 }, logger: quiet }));
    expect(store.target).toBe(`127.0.0.1:${redis.server.port}/3`);
    await store.set('k', 'in db 3');
    const db3 = createRedisClient({ ...redis.server.connection, db: 3 });
    try {
      await db3.connect(); // createRedisClient selects the configured db
      expect(await db3.get('dbtest:k')).toBe('"in db 3"');
      expect(await redis.raw.exists('dbtest:k')).toBe(0); // raw is on db 0
    } finally {
      db3.disconnect();
    }
  });

  test('a db the server does not have is a clear error', async () => {
    const store = track(new PersistentRedisKVS({ connection: { ...redis.server.connection, db: 99 }, logger: quiet }));
    await expect(store.get('k')).rejects.toThrow(/refused to select db 99 .*check redis_connection.db/);
  });

  test('a closed store refuses further use', async () => {
    const store = persistent();
    await store.set('k', 1);
    await store.close();
    await expect(store.get('k')).rejects.toThrow(StoreClosedError);
    await store.close(); // twice is fine
  });

  test('transactions waiting for their key when the store closes reject with StoreClosedError; their callbacks never run', async () => {
    const prefix = uniquePrefix();
    const store = redis.persistent({ prefix });
    await store.set('k', 1);
    await store.transaction('k', (v) => ({ value: v as number })); // the text is remembered
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const first = store.transaction('k', async () => {
      await gate;
      return {}; // writes nothing
    });
    let laterCalls = 0;
    const later = Array.from({ length: 3 }, () =>
      store.transaction('k', (v) => {
        laterCalls++;
        return { value: (v as number) + 1 };
      }),
    );
    const closing = store.close();
    open();
    expect(await first).toEqual({});
    for (const p of later) await expect(p).rejects.toThrow(StoreClosedError);
    await closing;
    expect(laterCalls).toBe(0);
    expect(await redis.raw.get(prefix + 'k')).toBe('1');
  });

  test('transactionWithCallbacks: a callback that throws does not keep the others of its script call from settling; its error is thrown again', async () => {
    const prefix = uniquePrefix();
    const store = redis.persistent({ prefix });
    const keys = ['a', 'b', 'c', 'd'];
    // Remembered texts: the next transactions all take the fast path, in one script call.
    for (const k of keys) await store.transaction(k, () => ({ value: 0 }));
    const rethrown: unknown[] = [];
    const queueMicrotask = jest.spyOn(global, 'queueMicrotask').mockImplementation((task) => {
      try {
        task();
      } catch (err) {
        rethrown.push(err);
      }
    });
    try {
      const settled = await new Promise<string[]>((resolve) => {
        const done: string[] = [];
        for (const k of keys) {
          store.transactionWithCallbacks!(k, (v, arg) => ({ value: (v as number) + 1, alsoSet: { [`${arg}-side`]: 1 } }), k, (_result, arg) => {
            done.push(arg);
            if (done.length === keys.length) resolve(done);
            if (arg === 'a') throw new Error('caller bug');
          }, (err) => resolve([String(err)]));
        }
      });
      expect(settled).toEqual(keys);
    } finally {
      queueMicrotask.mockRestore();
    }
    expect(rethrown).toEqual([new Error('caller bug')]);
    expect(await store.multiget(keys)).toEqual([1, 1, 1, 1]);
    // The key of the throwing callback was freed: it takes transactions again.
    expect(await store.update('a', (v) => (v as number) + 1)).toBe(2);
    await store.close();
  });

  test('store[key] reads a key; members (internal fields included) win, get() reads any key', async () => {
    const store = ephemeral(100, 'members:');
    await store.set('answer', 42);
    expect(await store['answer']).toBe(42);
    expect(typeof store['keys']).toBe('function');
    expect([store['prefix'], store['target'], store['expiry'], store['type']]).toEqual(['members:', `127.0.0.1:${redis.server.port}/0`, 100, 'redis_ephemeral']);
    for (const k of ['connection', 'lastSeen', 'keyQueues', 'casBatch', 'expirySeconds', 'maxRetries']) {
      await store.set(k, `key ${k}`);
      expect([k, await store.get(k)]).toEqual([k, `key ${k}`]);
      expect([k, k in store ? 'member' : await store[k]]).toEqual([k, 'member']); // documented: use get() for these
    }
    await store.set('not-a-member', 'plain');
    expect(await store['not-a-member']).toBe('plain');
    const { get } = store; // methods read through the store are bound to it
    expect(await get('answer')).toBe(42);
  });
});
