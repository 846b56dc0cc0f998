import { describeWithRedis, runKVStoreConformance, startRedisServer, type ForeignStorage, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { createRedisClient, EphemeralRedisKVS, PersistentRedisKVS, type KVStore } from '@learning-observer/kvs';
import type { Redis } from 'ioredis';

const quiet = { warn: () => undefined };

describeWithRedis('Redis backends: shared conformance suite', () => {
  let server: RedisServerHandle;
  let raw: Redis;
  let n = 0;
  beforeAll(async () => {
    server = await startRedisServer();
    raw = createRedisClient(server.connection);
    await raw.connect();
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  const prefixOf = (store: KVStore) => (store as unknown as PersistentRedisKVS).prefix;

  /** Keys outside every store's namespace, in the same db (db 0, as the stores use). */
  const foreign: ForeignStorage = {
    write: async (key, value) => void (await raw.set(key, value)),
    read: (key) => raw.get(key),
    remove: async (key) => void (await raw.del(key)),
  };

  runKVStoreConformance(
    'PersistentRedisKVS (redis)',
    () => new PersistentRedisKVS({ prefix: `conf-p${++n}:`, connection: server.connection, logger: quiet }),
    {
      reopen: async (store) => new PersistentRedisKVS({ prefix: prefixOf(store), connection: server.connection, logger: quiet }),
      sibling: async () => new PersistentRedisKVS({ prefix: `conf-p${++n}:`, connection: server.connection, logger: quiet }),
      foreign,
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
      foreign,
    },
  );
});
