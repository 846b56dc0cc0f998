import { describeWithRedis, startRedisServer, useRedisStores } from '@learning-observer/kvs-test-suite';
import {
  CorruptValueError,
  PersistentRedisKVS,
  StoreWriteError,
  type JsonValue,
  type KVStore,
  type TransactionResult,
} from '@learning-observer/kvs';

const quiet = { warn: () => undefined };

/**
 * The compare-and-sets of one event-loop turn travel as one multi-item script call. These tests
 * start every transaction of a "flush" from text the store remembers (no GET first), so all of them
 * reach the queue in the same turn and go out together; commandstats confirms how many calls went.
 * Where the order within a flush matters, the callbacks are synchronous `transaction` callbacks:
 * `update` adds awaits, so its compare-and-set can join the queue after a later `transaction`'s.
 */
describeWithRedis('Redis: the compare-and-sets of one turn go as one script call', () => {
  const redis = useRedisStores('cas');
  const persistent = (options: { maxRetries?: number } = {}) => redis.persistent(options);
  const ephemeral = (expiry: number) => redis.ephemeral(expiry);

  /** Calls per command (lower-case name) since the last `resetStats()`. */
  const commandCounts = async (): Promise<Record<string, number>> => {
    const info = await redis.raw.info('commandstats');
    const counts: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) counts[m[1]] = Number(m[2]);
    return counts;
  };
  const resetStats = () => redis.raw.config('RESETSTAT');

  /** Writes `entries` through the store's transactions, so the store remembers their text. */
  const prime = async (store: KVStore, entries: Record<string, JsonValue>) => {
    await Promise.all(Object.entries(entries).map(([k, v]) => store.transaction(k, () => ({ value: v }))));
  };

  const increment = (store: KVStore, key: string, calls: Record<string, number>) =>
    store.update(key, (v) => {
      calls[key] = (calls[key] ?? 0) + 1;
      return (v as number) + 1;
    });

  test('a flush of a few transactions is one EVALSHA; of 8 or more, two; every transaction commits', async () => {
    const store = persistent();
    const keys = Array.from({ length: 47 }, (_, i) => `k${i}`);
    await prime(store, Object.fromEntries(keys.map((k) => [k, 0])));
    await resetStats();
    await Promise.all(keys.slice(0, 7).map((k) => store.transaction(k, (v) => ({ value: (v as number) + 1 }))));
    expect((await commandCounts()).evalsha).toBe(1);
    await resetStats();
    const results = await Promise.all(keys.map((k) => store.transaction(k, (v) => ({ value: (v as number) + 1, alsoSet: { [`out/${k}`]: 'done' } }))));
    expect(results.map((r) => r.value)).toEqual(keys.map((_, i) => (i < 7 ? 2 : 1)));
    const counts = await commandCounts();
    expect([counts.evalsha, counts.eval]).toEqual([2, undefined]);
    expect(await store.multiget(keys)).toEqual(keys.map((_, i) => (i < 7 ? 2 : 1)));
    expect(await store.multiget(keys.map((k) => `out/${k}`))).toEqual(keys.map(() => 'done'));
  });

  test('texts of any characters travel intact: multi-byte, newlines, quotes; alsoSet equal to the value or not', async () => {
    const store = persistent();
    const start: Record<string, JsonValue> = { a: 'zażółć\n"gęślą"', b: { s: '😀 \u0000 \\ end' }, c: ['ł', 'x\r\ny'] };
    await prime(store, start);
    await resetStats();
    const calls: Record<string, number> = {};
    const next = (k: string, v: JsonValue | undefined) => ({ was: v ?? null, k, text: `${k}: 🙂 ąę\n` });
    await Promise.all(
      Object.keys(start).map((k) =>
        store.transaction(k, (v) => {
          calls[k] = (calls[k] ?? 0) + 1;
          const value = next(k, v);
          return { value, alsoSet: { [`same/${k}`]: value, [`other/${k}`]: { copy: value, extra: 'ü' } } };
        }),
      ),
    );
    expect(calls).toEqual({ a: 1, b: 1, c: 1 }); // every remembered (multi-byte) text compared equal
    expect((await commandCounts()).evalsha).toBe(1);
    for (const k of Object.keys(start)) {
      const value = next(k, start[k]);
      expect(await redis.raw.get(store.prefix + k)).toBe(JSON.stringify(value));
      expect(await redis.raw.get(store.prefix + `same/${k}`)).toBe(JSON.stringify(value));
      expect(await redis.raw.get(store.prefix + `other/${k}`)).toBe(JSON.stringify({ copy: value, extra: 'ü' }));
    }
  });

  test('an item whose key changed is skipped and retried; the others of its flush commit once', async () => {
    const store = persistent({ maxRetries: 1 });
    await prime(store, { a: 1, b: 1, c: 1 });
    await redis.raw.set(store.prefix + 'b', '100'); // the store's remembered text for b is now stale
    await resetStats();
    const calls: Record<string, number> = {};
    const results = await Promise.all(['a', 'b', 'c'].map((k) => increment(store, k, calls)));
    expect(results).toEqual([2, 101, 2]);
    expect(calls).toEqual({ a: 1, b: 2, c: 1 });
    const counts = await commandCounts();
    // one call for the flush of three, then b alone: a GET and one more call
    expect([counts.evalsha, counts.get]).toEqual([2, 1]);
    expect(await redis.raw.mget(['a', 'b', 'c'].map((k) => store.prefix + k))).toEqual(['2', '101', '2']);
  });

  test('items are applied in order: an alsoSet key of one item is another item\'s key in the same flush', async () => {
    // x first: its alsoSet overwrites y, so y's compare fails, and y is retried from x's value.
    const store = persistent();
    await prime(store, { x: 0, y: 'y0' });
    await resetStats();
    const yCalls: JsonValue[] = [];
    const [x, y] = await Promise.all([
      store.transaction('x', (v) => ({ value: (v as number) + 1, alsoSet: { y: 'from x' } })),
      store.transaction('y', (v) => {
        yCalls.push(v as JsonValue);
        return { value: `${v as string}!` };
      }),
    ]);
    expect([x.value, y.value]).toEqual([1, 'from x!']);
    expect(yCalls).toEqual(['y0', 'from x']);
    expect((await commandCounts()).evalsha).toBe(2);
    expect(await store.multiget(['x', 'y'])).toEqual([1, 'from x!']);

    // y first: it commits, then x's alsoSet overwrites it, as sequential application would.
    const other = persistent();
    await prime(other, { x: 0, y: 'y0' });
    await resetStats();
    await Promise.all([
      other.transaction('y', (v) => ({ value: `${v as string}!` })),
      other.transaction('x', (v) => ({ value: (v as number) + 1, alsoSet: { y: 'from x' } })),
    ]);
    expect((await commandCounts()).evalsha).toBe(1);
    expect(await other.multiget(['x', 'y'])).toEqual([1, 'from x']);
  });

  test('a transaction without value in a flush writes only its alsoSet keys', async () => {
    const store = persistent();
    await prime(store, { a: 1, b: 1 });
    await resetStats();
    await Promise.all([
      store.transaction('a', () => ({ alsoSet: { 'side/a': 'a was 1' } })),
      store.transaction('b', (v) => ({ value: (v as number) + 1 })),
    ]);
    expect((await commandCounts()).evalsha).toBe(1);
    expect(await store.multiget(['a', 'side/a', 'b'])).toEqual([1, 'a was 1', 2]);
  });

  test('ephemeral: every key of a multi-item flush, retried items and alsoSet keys included, gets the TTL', async () => {
    const store = ephemeral(100);
    await prime(store, { a: 1, b: 1, c: 1 });
    await redis.raw.set(store.prefix + 'b', '10', 'EX', 5); // stale remembered text, and a shorter TTL
    await resetStats();
    await Promise.all(
      ['a', 'b', 'c'].map((k) => store.transaction(k, (v) => ({ value: (v as number) + 1, alsoSet: { [`out/${k}`]: k } }))),
    );
    expect((await commandCounts()).evalsha).toBe(2);
    expect(await store.multiget(['a', 'b', 'c'])).toEqual([2, 11, 2]);
    for (const k of ['a', 'b', 'c', 'out/a', 'out/b', 'out/c']) {
      const pttl = await redis.raw.pttl(store.prefix + k);
      expect([k, pttl > 90_000 && pttl <= 100_000]).toEqual([k, true]);
    }
  });

  test('persistent: a multi-item flush removes the TTL its keys had', async () => {
    const store = persistent();
    await prime(store, { a: 1, b: 1 });
    await redis.raw.expire(store.prefix + 'a', 100);
    await redis.raw.expire(store.prefix + 'b', 100);
    await resetStats();
    await Promise.all(['a', 'b'].map((k) => store.transaction(k, (v) => ({ value: (v as number) + 1, alsoSet: { [`out/${k}`]: k } }))));
    expect((await commandCounts()).evalsha).toBe(1);
    for (const k of ['a', 'b', 'out/a', 'out/b']) expect([k, await redis.raw.pttl(store.prefix + k)]).toEqual([k, -1]);
  });

  test('after SCRIPT FLUSH a multi-item flush loads the script again (EVAL), then uses EVALSHA', async () => {
    const store = persistent();
    const keys = ['a', 'b', 'c', 'd'];
    await prime(store, Object.fromEntries(keys.map((k) => [k, 1])));
    await redis.raw.script('FLUSH');
    await resetStats();
    const calls: Record<string, number> = {};
    expect(await Promise.all(keys.map((k) => increment(store, k, calls)))).toEqual([2, 2, 2, 2]);
    expect(await Promise.all(keys.map((k) => increment(store, k, calls)))).toEqual([3, 3, 3, 3]);
    const counts = await commandCounts();
    expect([counts.evalsha, counts.eval]).toEqual([2, 1]); // NOSCRIPT, then EVAL; then EVALSHA works
    expect(calls).toEqual({ a: 2, b: 2, c: 2, d: 2 });
  });

  test('a flush larger than one call is split into calls of at most 512 items, in order', async () => {
    const store = persistent();
    const keys = Array.from({ length: 1200 }, (_, i) => `k${i}`);
    await prime(store, Object.fromEntries(keys.map((k) => [k, 0])));
    await redis.raw.script('FLUSH'); // every call of the flush falls back to EVAL on its own
    await resetStats();
    await Promise.all(keys.map((k) => store.transaction(k, (v) => ({ value: (v as number) + 1, alsoSet: { last: k } }))));
    const counts = await commandCounts();
    expect([counts.evalsha, counts.eval]).toEqual([3, 3]);
    expect(await store.get('last')).toBe('k1199'); // the calls ran in the order of the flush
    expect(new Set(await store.multiget(keys))).toEqual(new Set([1]));
  });

  test('a large flush is also split by size', async () => {
    const store = persistent();
    const big = 'x'.repeat(300 * 1024);
    const keys = ['a', 'b', 'c', 'd', 'e'];
    await prime(store, Object.fromEntries(keys.map((k) => [k, 0])));
    await resetStats();
    await Promise.all(keys.map((k) => store.transaction(k, (v) => ({ value: (v as number) + 1, alsoSet: { [`big/${k}`]: big } }))));
    expect((await commandCounts()).evalsha).toBe(2); // a call closes once it holds about 1 MB: 4 + 1 items
    expect(await store.multiget(keys)).toEqual(keys.map(() => 1));
    expect(await redis.raw.strlen(store.prefix + 'big/e')).toBe(JSON.stringify(big).length);
  });

  test('an item that hits a server error gets its own typed error; the rest of its flush commits', async () => {
    const store = persistent();
    await prime(store, { a: 1, h: 1, b: 1 });
    await redis.raw.del(store.prefix + 'h');
    await redis.raw.hset(store.prefix + 'h', 'f', 'v'); // another Redis type behind the store's back
    await resetStats();
    const calls: Record<string, number> = {};
    const outcomes = await Promise.allSettled(['a', 'h', 'b'].map((k) => increment(store, k, calls)));
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: 2 });
    expect(outcomes[2]).toEqual({ status: 'fulfilled', value: 2 });
    expect(outcomes[1].status).toBe('rejected');
    const err = (outcomes[1] as PromiseRejectedResult).reason as Error;
    expect(err).toBeInstanceOf(CorruptValueError);
    expect(err.message).toContain('update of "h"');
    expect(err.message).toContain('non-string Redis value');
    expect((await commandCounts()).evalsha).toBe(1);
    expect(await redis.raw.hget(store.prefix + 'h', 'f')).toBe('v');
  });

  test.each(['redis', 'redis_ephemeral'])(
    '%s: a server refusing writes (OOM) gives every writer of the flush a StoreWriteError and writes nothing',
    async (type) => {
      const store = type === 'redis' ? persistent() : ephemeral(100);
      await prime(store, { a: 1, b: 1, c: 1 });
      await redis.raw.set(store.prefix + 'c', '7'); // c's compare fails: it is retried, not refused
      await redis.raw.config('SET', 'maxmemory-policy', 'noeviction');
      await redis.raw.config('SET', 'maxmemory', '1');
      let outcomes: PromiseSettledResult<TransactionResult>[];
      try {
        outcomes = await Promise.allSettled(
          ['a', 'b', 'c'].map((k) => store.transaction(k, (v) => ({ value: (v as number) + 1, alsoSet: { [`out/${k}`]: 1 } }))),
        );
      } finally {
        await redis.raw.config('SET', 'maxmemory', '0');
      }
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreWriteError);
        expect(((o as PromiseRejectedResult).reason as Error).message).toMatch(/^update of "[abc]" on Redis at .* was refused: OOM/);
      }
      expect(await redis.raw.mget(['a', 'b', 'c', 'out/a', 'out/b', 'out/c'].map((k) => store.prefix + k))).toEqual(['1', '1', '7', null, null, null]);
      // and the store works again once the server accepts writes
      expect(await Promise.all(['a', 'b', 'c'].map((k) => store.update(k, (v) => (v as number) + 1)))).toEqual([2, 2, 8]);
    },
  );

  test('a key that became another Redis type after the read fails its item with CorruptValueError', async () => {
    const store = persistent();
    const err = await store
      .transaction('fresh', async (v) => {
        expect(v).toBeUndefined();
        await redis.raw.hset(store.prefix + 'fresh', 'f', 'v'); // a rival creates a hash after our read
        return { value: 1 };
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptValueError);
    expect((err as Error).message).toContain('update of "fresh"');
    expect(await redis.raw.type(store.prefix + 'fresh')).toBe('hash');
  });

  test('a transaction whose alsoSet names its own key ends with the alsoSet value, as one after the other', async () => {
    const store = persistent();
    await prime(store, { a: 0, b: 0 });
    await Promise.all([
      store.transaction('a', () => ({ value: 'value', alsoSet: { a: 'alsoSet' } })),
      store.transaction('b', (v) => ({ value: (v as number) + 1 })),
    ]);
    expect(await store.multiget(['a', 'b'])).toEqual(['alsoSet', 1]);
    expect(await store.update('a', (v) => `${v as string}!`)).toBe('alsoSet!');
  });

  test('a call refused as a whole is sent again item by item, so each caller gets an error naming its own key', async () => {
    const noScripts = await startRedisServer({ args: ['--rename-command', 'EVALSHA', '', '--rename-command', 'EVAL', ''] });
    const store = new PersistentRedisKVS({ prefix: 'p:', connection: noScripts.connection, logger: quiet });
    try {
      await store.set('a', 1);
      const outcomes = await Promise.allSettled(['a', 'b', 'c'].map((k) => store.transaction(k, () => ({ value: 2 }))));
      outcomes.forEach((o, i) => {
        expect(o.status).toBe('rejected');
        const message = ((o as PromiseRejectedResult).reason as Error).message;
        expect(message).toContain(`update of "${'abc'[i]}" on Redis at 127.0.0.1:${noScripts.port}/0 failed`);
        expect(message).toMatch(/unknown command/i);
      });
      expect(await store.get('a')).toBe(1);
    } finally {
      await store.close();
      await noScripts.stop();
    }
  });

  test('ephemeral setMany is one script call that gives every key the TTL, also after SCRIPT FLUSH', async () => {
    const store = ephemeral(100);
    const entries = Array.from({ length: 300 }, (_, i) => [`k${i}`, { n: i, text: 'ł' }] as [string, JsonValue]);
    await redis.raw.set(store.prefix + 'k0', 'old', 'EX', 5);
    await redis.raw.script('FLUSH');
    await resetStats();
    await store.setMany!(entries);
    await store.setMany!(entries.slice(0, 2));
    const counts = await commandCounts();
    expect([counts.evalsha, counts.eval, counts.multi, counts.exec]).toEqual([2, 1, undefined, undefined]);
    expect(await store.multiget(entries.map(([k]) => k))).toEqual(entries.map(([, v]) => v));
    for (const k of ['k0', 'k1', 'k299']) {
      const pttl = await redis.raw.pttl(store.prefix + k);
      expect([k, pttl > 90_000 && pttl <= 100_000]).toEqual([k, true]);
    }
    // the store remembers what it wrote: the next transaction needs no GET
    await resetStats();
    expect((await store.transaction('k1', (v) => ({ value: (v as { n: number }).n + 1 }))).value).toBe(2);
    expect((await commandCounts()).get).toBeUndefined();
  });

  test('setMany on a server refusing writes (OOM) writes nothing, with or without TTL', async () => {
    const both = [persistent(), ephemeral(100)];
    await redis.raw.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.raw.config('SET', 'maxmemory', '1');
    try {
      for (const store of both) {
        await expect(store.setMany!([['a', 1], ['b', 2]])).rejects.toThrow(StoreWriteError);
        expect(await redis.raw.exists(store.prefix + 'a', store.prefix + 'b')).toBe(0);
      }
    } finally {
      await redis.raw.config('SET', 'maxmemory', '0');
    }
  });
});
