import { describeWithRedis, runKVStoreConformance, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { EphemeralRedisKVS, PersistentRedisKVS, type KVStore } from '@learning-observer/kvs';

const quiet = { warn: () => undefined };

describeWithRedis('Redis backends: shared conformance suite', () => {
  let server: RedisServerHandle;
  let n = 0;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server?.stop());

  const prefixOf = (store: KVStore) => (store as unknown as PersistentRedisKVS).prefix;

  runKVStoreConformance(
    'PersistentRedisKVS (redis)',
    () => new PersistentRedisKVS({ prefix: `conf-p${++n}:`, connection: server.connection, logger: quiet }),
    {
      reopen: async (store) => new PersistentRedisKVS({ prefix: prefixOf(store), connection: server.connection, logger: quiet }),
      sibling: async () => new PersistentRedisKVS({ prefix: `conf-p${++n}:`, connection: server.connection, logger: quiet }),
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
    },
  );
});
