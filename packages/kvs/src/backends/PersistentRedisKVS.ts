import type { Redis } from 'ioredis';
import { RedisKVSBase, type RedisKVSOptions } from './RedisKVSBase';

/** Receives the persistence warning of {@link PersistentRedisKVS}. */
export interface RedisKVSLogger {
  warn(message: string): void;
}

/** Options of {@link PersistentRedisKVS}. */
export interface PersistentRedisKVSOptions extends RedisKVSOptions {
  /** Where the "this server does not persist" warning goes (default `console`). */
  logger?: RedisKVSLogger;
  /** Set to `false` to skip the persistence check on connect (default `true`). */
  checkPersistence?: boolean;
}

/** Servers (`host:port`) already checked for persistence in this process. */
const checkedServers = new Set<string>();

/**
 * The `redis` backend: Redis without TTLs. A write replaces the value and removes any TTL the key
 * had (a plain SET does that).
 *
 * On its first connection to a server, the store asks it (`CONFIG GET appendonly`, `CONFIG GET
 * save`) whether it persists data, and warns once per server and process when it does not, naming
 * the setting to change. Servers that forbid CONFIG are not checked.
 *
 * See `RedisKVSBase` for the namespace (`prefix`), SCAN/MGET use and compare-and-set updates.
 *
 * @example
 * const store = new PersistentRedisKVS({ prefix: 'lo:', connection: { host: 'localhost', port: 6379 } });
 * await store.update('count', (n) => ((n as number | undefined) ?? 0) + 1);
 * await store.close();
 */
export class PersistentRedisKVS extends RedisKVSBase {
  readonly type = 'redis';
  protected readonly expirySeconds = undefined;

  constructor(options: PersistentRedisKVSOptions = {}) {
    const logger = options.logger ?? console;
    super(options, options.checkPersistence === false ? undefined : (client, target) => checkPersistence(client, target, logger));
  }
}

/** Forgets which servers were checked (for tests). */
export function resetRedisPersistenceWarnings(): void {
  checkedServers.clear();
}

async function checkPersistence(client: Redis, target: string, logger: RedisKVSLogger): Promise<void> {
  const server = target.replace(/\/\d+$/, '');
  if (checkedServers.has(server)) return;
  checkedServers.add(server);
  let appendonly: string | undefined;
  let save: string | undefined;
  try {
    appendonly = configValue((await client.config('GET', 'appendonly')) as unknown);
    save = configValue((await client.config('GET', 'save')) as unknown);
  } catch {
    return; // CONFIG not permitted (managed Redis, ACLs): nothing to check
  }
  if (appendonly === undefined || save === undefined) return;
  if (appendonly.toLowerCase() !== 'yes' && save.trim() === '') {
    logger.warn(
      `Warning: the Redis server at ${server} does not persist data (appendonly no, no save rules): ` +
        'everything the `redis` backend stores is lost when it restarts. Set `appendonly yes` (recommended) ' +
        'or a `save` rule such as `save 60 1` in redis.conf (or with CONFIG SET), or use `redis_ephemeral` if losing the data is fine.',
    );
  }
}

function configValue(reply: unknown): string | undefined {
  return Array.isArray(reply) && reply.length >= 2 ? String(reply[1]) : undefined;
}
