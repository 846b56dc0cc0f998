/// <reference types="jest" />
import {
  createRedisClient,
  EphemeralRedisKVS,
  PersistentRedisKVS,
  type EphemeralRedisKVSOptions,
  type PersistentRedisKVSOptions,
} from '@learning-observer/kvs';
import { startRedisServer, type RedisServerHandle } from './redisServer';

/** What {@link useRedisStores} gives a test file. Read its members inside tests and hooks only. */
export interface RedisStoresFixture {
  /** The throwaway server (started in `beforeAll`). */
  readonly server: RedisServerHandle;
  /** A plain client on that server, for looking at what the stores wrote. */
  readonly raw: ReturnType<typeof createRedisClient>;
  /** A prefix no other store of this file uses (`<stem><n>:`). */
  uniquePrefix(): string;
  /** A `PersistentRedisKVS` on the server, with a unique prefix unless given one; closed after the test. */
  persistent(options?: Omit<PersistentRedisKVSOptions, 'connection'>): PersistentRedisKVS;
  /** An `EphemeralRedisKVS` on the server, with a unique prefix unless given one; closed after the test. */
  ephemeral(expiry: number, options?: Omit<EphemeralRedisKVSOptions, 'connection' | 'expiry'>): EphemeralRedisKVS;
  /** Closes `store` after the test, like the stores made here (for stores a test builds itself). */
  track<S extends { close(): Promise<void> }>(store: S): S;
}

const quiet = { warn: () => undefined };

/**
 * Registers the hooks a Redis backend test file needs, in the `describe` it is called from: one
 * `redis-server` for the file (with a plain client on it), stores that are closed after each test,
 * and the server stopped at the end. Persistent stores get a silent logger unless given one.
 *
 * @example
 * ```ts
 * describeWithRedis('my Redis tests', () => {
 *   const redis = useRedisStores('t');
 *   test('writes JSON under the prefix', async () => {
 *     const store = redis.persistent({ prefix: 'ns:' });
 *     await store.set('a', 1);
 *     expect(await redis.raw.get('ns:a')).toBe('1');
 *   });
 * });
 * ```
 */
export function useRedisStores(stem = 't'): RedisStoresFixture {
  let server: RedisServerHandle | undefined;
  let raw: ReturnType<typeof createRedisClient> | undefined;
  const open: { close(): Promise<void> }[] = [];
  let n = 0;
  const started = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`useRedisStores: ${name} is read before beforeAll ran; read it inside a test or hook.`);
    return value;
  };
  const fixture: RedisStoresFixture = {
    get server() {
      return started(server, 'server');
    },
    get raw() {
      return started(raw, 'raw');
    },
    uniquePrefix: () => `${stem}${++n}:`,
    persistent: (options = {}) =>
      fixture.track(
        new PersistentRedisKVS({
          logger: quiet,
          ...options,
          prefix: options.prefix ?? fixture.uniquePrefix(),
          connection: fixture.server.connection,
        }),
      ),
    ephemeral: (expiry, options = {}) =>
      fixture.track(new EphemeralRedisKVS({ ...options, prefix: options.prefix ?? fixture.uniquePrefix(), expiry, connection: fixture.server.connection })),
    track(store) {
      open.push(store);
      return store;
    },
  };
  beforeAll(async () => {
    server = await startRedisServer();
    raw = createRedisClient(server.connection);
    await raw.connect();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });
  return fixture;
}
