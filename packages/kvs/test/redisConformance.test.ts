import { describeWithRedis, runKVStoreConformance, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { createRedisClient, EphemeralRedisKVS, PersistentRedisKVS, type KVStore } from '@learning-observer/kvs';

const quiet = { warn: () => undefined };

describeWithRedis('Redis backends: shared conformance suite', () => {
  let server: RedisServerHandle;
  let n = 0;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server?.stop());

  const prefixOf = (store: KVStore) => (store as unknown as PersistentRedisKVS).prefix;

  /** A key outside every store's namespace, in the same db, survives a store's clear(). */
  const foreignKeyCase = (store: () => KVStore) => {
    it('clear() leaves a foreign key of the same db alone', async () => {
      const raw = createRedisClient(server.connection);
      try {
        await raw.connect();
        await raw.set('foreign:not-a-store-key', 'stays');
        await store().set('mine', 1);
        await store().clear();
        expect(await store().keys()).toEqual([]);
        expect(await raw.get('foreign:not-a-store-key')).toBe('stays');
      } finally {
        await raw.del('foreign:not-a-store-key');
        raw.disconnect();
      }
    });
  };

  runKVStoreConformance(
    'PersistentRedisKVS (redis)',
    () => new PersistentRedisKVS({ prefix: `conf-p${++n}:`, connection: server.connection, logger: quiet }),
    {
      reopen: async (store) => new PersistentRedisKVS({ prefix: prefixOf(store), connection: server.connection, logger: quiet }),
      sibling: async () => new PersistentRedisKVS({ prefix: `conf-p${++n}:`, connection: server.connection, logger: quiet }),
      extraCases: foreignKeyCase,
    },
  );

  // expiry 2 s: long enough that no other case races the TTL on a busy machine, short enough to test it.
  runKVStoreConformance(
    'EphemeralRedisKVS (redis_ephemeral, expiry 2 s)',
    () => new EphemeralRedisKVS({ expiry: 2, prefix: `conf-e${++n}:`, connection: server.connection }),
    {
      ttl: { expiresWithinMs: 2300 },
      reopen: async (store) => new EphemeralRedisKVS({ expiry: 2, prefix: prefixOf(store), connection: server.connection }),
      sibling: async () => new EphemeralRedisKVS({ expiry: 2, prefix: `conf-e${++n}:`, connection: server.connection }),
      extraCases: foreignKeyCase,
    },
  );
});
