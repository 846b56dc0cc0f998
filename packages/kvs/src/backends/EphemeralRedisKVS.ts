import { KVSError } from '../errors';
import { RedisKVSBase, type RedisKVSOptions } from './RedisKVSBase';

/** Options of {@link EphemeralRedisKVS}. */
export interface EphemeralRedisKVSOptions extends RedisKVSOptions {
  /** Time to live, in seconds, that every write (set, update, transaction, alsoSet, load) gives the key. */
  expiry: number;
}

/**
 * The `redis_ephemeral` backend: Redis with a TTL on every key. Each write (`set`, `update`,
 * `transaction` including its `alsoSet` keys, `load`) stores the value with `EX expiry`, so a key
 * disappears `expiry` seconds after its last write. Suited to caches and short-lived session state.
 *
 * See `RedisKVSBase` for the namespace (`prefix`), SCAN/MGET use and compare-and-set updates.
 *
 * @example
 * const store = new EphemeralRedisKVS({ expiry: 3600, prefix: 'session:', connection: { port: 6379 } });
 * await store.set('s1', { step: 2 });   // gone an hour later unless written again
 * await store.close();
 */
export class EphemeralRedisKVS extends RedisKVSBase {
  static override readonly publicMembers: readonly string[] = [...RedisKVSBase.publicMembers, 'expiry'];
  readonly type = 'redis_ephemeral';
  /** The TTL in seconds given to every write. */
  readonly expiry: number;
  protected readonly expirySeconds: number;

  constructor(options: EphemeralRedisKVSOptions) {
    const expiry = options?.expiry;
    if (typeof expiry !== 'number' || !Number.isInteger(expiry) || expiry < 1) {
      throw new KVSError(
        `EphemeralRedisKVS needs \`expiry\`: a whole number of seconds >= 1 that every write gives the key; got ${JSON.stringify(expiry)}.`,
      );
    }
    super(options);
    this.expiry = expiry;
    this.expirySeconds = expiry;
  }
}
