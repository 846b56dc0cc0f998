import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BaseKVS } from '../BaseKVS';
import { CorruptValueError, KVSError, UnscopedClearError } from '../errors';
import { assertKey } from '../json';
import { RedisConnection, type RedisConnectionSettings } from '../redisConnection';
import type { ClearOptions, JsonValue, TransactionFn, TransactionResult } from '../types';

/** Options shared by both Redis backends. */
export interface RedisKVSOptions {
  /**
   * Namespace of this store: every key is stored in Redis as `prefix + key`, and `keys()`,
   * `clear()` and `dump()` only see keys starting with it. Without a prefix (the default, which
   * keeps keys byte-identical to the Python original's) the store sees the whole db, and
   * `clear()` refuses to run unless called as `clear({ wholeDatabase: true })`.
   */
  prefix?: string;
  /** Where Redis is (default `localhost:6379`, db 0). */
  connection?: RedisConnectionSettings;
  /** Attempts `update`/`transaction` makes before throwing `ConflictError` (default 50). */
  maxRetries?: number;
}

/** Keys per MGET / UNLINK round trip. */
const BATCH = 1000;
/** Most characters / keys of raw values a store remembers to skip the GET of a transaction. */
const LAST_SEEN_CHARS = 16 * 1024 * 1024;
const LAST_SEEN_KEYS = 100_000;

/**
 * Compare-and-set, atomically on the server. KEYS[1] is the transaction's key, KEYS[2..] the
 * `alsoSet` keys. ARGV: [1] '1' when the key existed at the read, '0' when it did not; [2] the raw
 * value read; [3] TTL in seconds ('0' = none); [4] '1' to write KEYS[1]; [5] its new value;
 * [4 + i] the value of KEYS[i] for i >= 2. Returns 1 when written, 0 when the key had changed.
 */
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
local ttl = tonumber(ARGV[3])
local function put(key, value)
  if ttl > 0 then
    redis.call('SET', key, value, 'EX', ttl)
  else
    redis.call('SET', key, value)
  end
end
if ARGV[4] == '1' then put(KEYS[1], ARGV[5]) end
for i = 2, #KEYS do put(KEYS[i], ARGV[4 + i]) end
return 1
`;
const COMPARE_AND_SET_SHA = createHash('sha1').update(COMPARE_AND_SET).digest('hex');

/** A compare-and-set waiting to be sent in the next pipeline. */
interface PendingCompareAndSet {
  what: string;
  keys: string[];
  args: string[];
  resolve: (written: number) => void;
  reject: (err: unknown) => void;
}

/** Escapes Redis glob metacharacters (`* ? [ ] \`) so that `text` matches itself only. */
export function escapeRedisGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Shared implementation of `EphemeralRedisKVS` and `PersistentRedisKVS` on one
 * {@link RedisConnection} owned by the store:
 *
 * - values are stored as JSON strings under `prefix + key`;
 * - `keys()` walks SCAN with an escaped MATCH pattern (never KEYS); `multiget` uses MGET in
 *   batches of 1000; `clear()` SCANs this store's keys and UNLINKs them (never FLUSHDB); without
 *   a prefix it throws `UnscopedClearError` unless given `{ wholeDatabase: true }`;
 * - `transaction`/`update` read with GET, run the callback, then write with a Lua script that
 *   compares the current raw value with the one read and only then sets the key and every
 *   `alsoSet` key, atomically. On a mismatch it retries after a short random pause, up to
 *   `maxRetries` attempts, then throws `ConflictError`. Updates of one key from the same store
 *   are also queued in-process, so they do not conflict with each other.
 *
 * Every failure is a typed error naming `host:port/db` (see `RedisConnection`).
 *
 * A subclass constructor runs on the store as callers see it (the Proxy of `BaseKVS`): it may set
 * fields, but must read only public members there. To act on each new connection, pass
 * `onConnect` to this constructor.
 *
 * @example
 * class MyRedisKVS extends RedisKVSBase {
 *   readonly type = 'my_redis';
 *   protected readonly expirySeconds = undefined;
 * }
 */
export abstract class RedisKVSBase extends BaseKVS {
  static override readonly publicMembers: readonly string[] = [...BaseKVS.publicMembers, 'prefix', 'target'];
  /** Namespace prepended to every key (empty: none; `clear()` then needs `{ wholeDatabase: true }`). */
  readonly prefix: string;
  /** `host:port/db` of the server, for messages. */
  readonly target: string;
  /** TTL every write sets, or `undefined` for none. */
  protected abstract readonly expirySeconds: number | undefined;
  protected readonly connection: RedisConnection;
  private readonly keyQueues = new Map<string, Promise<unknown>>();
  /**
   * The raw text this store last wrote or read per Redis key (bounded, oldest dropped first). A
   * transaction starts its compare-and-set from it instead of a GET; when another writer changed
   * the key meanwhile the compare fails and the transaction reads the key and tries again, so the
   * cache only saves round trips, it never decides a value.
   */
  private readonly lastSeen = new Map<string, string>();
  private lastSeenChars = 0;
  /** Compare-and-sets waiting for the next pipeline flush. */
  private casBatch: PendingCompareAndSet[] | undefined;

  /**
   * @param onConnect runs on every new connection before its first command (errors are ignored);
   *   gets the client and `host:port/db`.
   */
  constructor(options: RedisKVSOptions = {}, onConnect?: (client: Redis, target: string) => Promise<void>) {
    super();
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw new KVSError(`Redis store prefix must be a string; got ${typeof options.prefix}.`);
    }
    if (options.maxRetries !== undefined && (!Number.isInteger(options.maxRetries) || options.maxRetries < 1)) {
      throw new KVSError(`maxRetries must be a positive integer; got ${String(options.maxRetries)}.`);
    }
    this.prefix = options.prefix ?? '';
    if (options.maxRetries !== undefined) this.maxRetries = options.maxRetries;
    // (Locals, not `this.connection`: reads in a constructor go through the Proxy.)
    const connection = new RedisConnection(options.connection ?? {});
    const target = connection.target;
    this.connection = connection;
    this.target = target;
    if (onConnect) connection.onConnect((client) => onConnect(client, target));
  }

  async get(key: string): Promise<JsonValue | undefined> {
    this.checkOpen();
    assertKey(key);
    const raw = await this.connection.run(`GET ${JSON.stringify(key)}`, (c) => c.get(this.prefix + key));
    return this.decode(key, raw);
  }

  async set(key: string, value: JsonValue): Promise<void> {
    this.checkWrite(key, value);
    const text = JSON.stringify(value);
    const ttl = this.expirySeconds;
    this.forget(this.prefix + key);
    await this.connection.run(`SET ${JSON.stringify(key)}`, (c) =>
      ttl !== undefined ? c.set(this.prefix + key, text, 'EX', ttl) : c.set(this.prefix + key, text),
    );
  }

  /**
   * Writes every entry in one atomic step: MSET, or MULTI/EXEC of `SET ... EX` when the store has
   * a TTL. Every entry is validated before anything is sent.
   */
  override async setMany(entries: Iterable<readonly [string, JsonValue]>): Promise<void> {
    const list = this.checkEntries(entries);
    if (list.length === 0) return;
    const ttl = this.expirySeconds;
    const raws = list.map(([k, v]) => [this.prefix + k, JSON.stringify(v)] as const);
    await this.connection.run(`MSET (${list.length} keys)`, async (c) => {
      if (ttl === undefined) {
        await c.mset(raws.flat());
      } else {
        const multi = c.multi();
        for (const [k, text] of raws) multi.set(k, text, 'EX', ttl);
        const replies = await multi.exec();
        const failed = replies?.find(([err]) => err);
        if (failed) throw failed[0];
      }
    });
    for (const [k, text] of raws) this.rememberWritten(k, text);
  }

  async keys(prefix = ''): Promise<string[]> {
    this.checkOpen();
    if (typeof prefix !== 'string') throw new KVSError(`keys(prefix) needs a string prefix; got ${typeof prefix}.`);
    const found = await this.scan(this.prefix + prefix);
    return found.map((k) => k.slice(this.prefix.length)).sort();
  }

  async multiget(keys: readonly string[]): Promise<(JsonValue | undefined)[]> {
    this.checkOpen();
    keys.forEach((k) => assertKey(k));
    const out: (JsonValue | undefined)[] = [];
    for (let i = 0; i < keys.length; i += BATCH) {
      const chunk = keys.slice(i, i + BATCH);
      const raws = await this.connection.run(`MGET (${chunk.length} keys)`, (c) => c.mget(chunk.map((k) => this.prefix + k)));
      chunk.forEach((k, j) => out.push(this.decode(k, raws[j] ?? null)));
    }
    return out;
  }

  async remove(key: string): Promise<void> {
    this.checkOpen();
    assertKey(key);
    this.forget(this.prefix + key);
    await this.connection.run(`DEL ${JSON.stringify(key)}`, (c) => c.del(this.prefix + key));
  }

  /**
   * Removes this store's keys (those starting with `prefix`) with SCAN + UNLINK; other stores'
   * keys in the same db survive. Without a prefix this would remove every key of the db, other
   * programs' included, so it throws `UnscopedClearError` (removing nothing) unless called as
   * `clear({ wholeDatabase: true })`. With a prefix, `wholeDatabase` changes nothing.
   *
   * @example
   * await new PersistentRedisKVS({ prefix: 'lo:' }).clear();           // removes lo:* only
   * await new PersistentRedisKVS().clear({ wholeDatabase: true });     // empties db 0 (SCAN + UNLINK)
   */
  async clear(options: ClearOptions = {}): Promise<void> {
    this.checkOpen();
    if (this.prefix === '' && options?.wholeDatabase !== true) throw new UnscopedClearError(this.type, this.target);
    this.lastSeen.clear();
    this.lastSeenChars = 0;
    const found = await this.scan(this.prefix);
    for (let i = 0; i < found.length; i += BATCH) {
      const chunk = found.slice(i, i + BATCH);
      await this.connection.run(`UNLINK (${chunk.length} keys)`, (c) => c.unlink(...chunk));
    }
  }

  async transaction(key: string, fn: TransactionFn): Promise<TransactionResult> {
    const self = this.unwrapped; // hot path: skip the proxy's get trap for every member access
    self.checkOpen();
    assertKey(key);
    // Queue updates of the same key from this store, so they do not race each other.
    const previous = self.keyQueues.get(key);
    const run = previous === undefined ? self.compareAndSetLoop(key, fn) : previous.then(() => self.compareAndSetLoop(key, fn));
    const tail = run.catch(() => undefined);
    self.keyQueues.set(key, tail);
    void tail.then(() => {
      if (self.keyQueues.get(key) === tail) self.keyQueues.delete(key);
    });
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }

  private async compareAndSetLoop(key: string, fn: TransactionFn): Promise<TransactionResult> {
    const what = `update of ${JSON.stringify(key)}`;
    const redisKey = this.prefix + key;
    for (let attempt = 1; attempt <= this.maxRetries; attempt++) {
      this.checkOpen();
      // First attempt: start from the text this store last wrote, when it has it (no GET).
      const cached = attempt === 1 ? this.lastSeen.get(redisKey) : undefined;
      const raw = cached ?? (await this.connection.run(`GET ${JSON.stringify(key)}`, (c) => c.get(redisKey)));
      const result = await fn(this.decode(key, raw));
      this.checkTransactionResult(key, result);
      const alsoSet = Object.entries(result.alsoSet ?? {});
      if (result.value === undefined && alsoSet.length === 0) return result;
      const keys = [redisKey, ...alsoSet.map(([k]) => this.prefix + k)];
      const text = result.value === undefined ? '' : JSON.stringify(result.value);
      const args = [
        raw === null ? '0' : '1',
        raw ?? '',
        String(this.expirySeconds ?? 0),
        result.value === undefined ? '0' : '1',
        text,
        // The same object in value and alsoSet (a reducer's [state, state]) is serialised once.
        ...alsoSet.map(([, v]) => (v === result.value && result.value !== undefined ? text : JSON.stringify(v))),
      ];
      let written: number;
      try {
        written = await this.queueCompareAndSet(what, keys, args);
      } catch (err) {
        this.forget(redisKey);
        throw err;
      }
      if (written === 1) {
        if (result.value !== undefined) this.rememberWritten(redisKey, text);
        else if (raw !== null) this.rememberWritten(redisKey, raw);
        for (let i = 0; i < alsoSet.length; i++) this.forget(keys[i + 1]);
        return result;
      }
      this.forget(redisKey);
      if (cached !== undefined) {
        // The cached text was stale: read the key and retry at once. This attempt does not count
        // (the cache entry is gone, so the next round does a GET), so maxRetries 1 still works.
        attempt--;
        continue;
      }
      if (attempt < this.maxRetries) await sleep(Math.random() * Math.min(2 ** attempt, 50));
    }
    throw this.conflict(key, this.maxRetries);
  }

  /**
   * Sends a compare-and-set together with the others issued in the same turn of the event loop,
   * as one pipeline (one socket write instead of one per update). A command the pipeline could
   * not run (an unknown script, a server error) is retried on its own, which reloads the script
   * or reports the error as a typed error.
   */
  private queueCompareAndSet(what: string, keys: string[], args: string[]): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.casBatch === undefined) {
        this.casBatch = [];
        setImmediate(() => this.flushCompareAndSets());
      }
      this.casBatch.push({ what, keys, args, resolve, reject });
    });
  }

  private flushCompareAndSets(): void {
    const batch = this.casBatch ?? [];
    this.casBatch = undefined;
    const alone = (p: PendingCompareAndSet) => {
      this.connection.run(p.what, (c) => this.evalCompareAndSet(c, p.keys, p.args)).then(p.resolve, p.reject);
    };
    if (batch.length === 1) return alone(batch[0]);
    this.connection
      .run(`${batch.length} pipelined updates`, (c) => {
        const pipeline = c.pipeline();
        for (const p of batch) pipeline.evalsha(COMPARE_AND_SET_SHA, p.keys.length, ...p.keys, ...p.args);
        return pipeline.exec();
      })
      .then(
        (replies) => {
          batch.forEach((p, i) => {
            const [err, written] = replies?.[i] ?? [new Error('no reply'), undefined];
            if (err) alone(p);
            else p.resolve(written as number);
          });
        },
        (err) => {
          for (const p of batch) p.reject(err);
        },
      );
  }

  /** Remembers the raw text a Redis key holds after our write (bounded by {@link LAST_SEEN_CHARS}). */
  private rememberWritten(redisKey: string, text: string): void {
    const old = this.lastSeen.get(redisKey);
    if (old !== undefined) {
      // Keep the key's place (oldest-first eviction by first write): cheaper than moving it.
      if (text.length <= LAST_SEEN_CHARS / 16) {
        this.lastSeen.set(redisKey, text);
        this.lastSeenChars += text.length - old.length;
        return;
      }
      this.lastSeenChars -= old.length;
      this.lastSeen.delete(redisKey);
    }
    if (text.length > LAST_SEEN_CHARS / 16) return;
    this.lastSeen.set(redisKey, text);
    this.lastSeenChars += text.length;
    while (this.lastSeenChars > LAST_SEEN_CHARS || this.lastSeen.size > LAST_SEEN_KEYS) {
      const [oldestKey, oldestText] = this.lastSeen.entries().next().value as [string, string];
      this.lastSeen.delete(oldestKey);
      this.lastSeenChars -= oldestText.length;
    }
  }

  private forget(redisKey: string): void {
    const old = this.lastSeen.get(redisKey);
    if (old === undefined) return;
    this.lastSeenChars -= old.length;
    this.lastSeen.delete(redisKey);
  }

  private async evalCompareAndSet(client: Redis, keys: string[], args: string[]): Promise<number> {
    try {
      return (await client.evalsha(COMPARE_AND_SET_SHA, keys.length, ...keys, ...args)) as number;
    } catch (err) {
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      return (await client.eval(COMPARE_AND_SET, keys.length, ...keys, ...args)) as number;
    }
  }

  /** Every Redis key starting with `rawPrefix` (SCAN with an escaped MATCH pattern). */
  private async scan(rawPrefix: string): Promise<string[]> {
    const pattern = escapeRedisGlob(rawPrefix) + '*';
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.connection.run(`SCAN MATCH ${JSON.stringify(pattern)}`, (c) =>
        c.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH),
      );
      for (const k of batch) if (k.startsWith(rawPrefix)) found.add(k);
      cursor = next;
    } while (cursor !== '0');
    return [...found];
  }

  private decode(key: string, raw: string | null): JsonValue | undefined {
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as JsonValue;
    } catch {
      throw new CorruptValueError(
        `Redis key ${JSON.stringify(this.prefix + key)} at ${this.target} does not hold JSON (${JSON.stringify(raw.slice(0, 40))}). ` +
          'It was not written by this store: remove it, or give this store its own `prefix` or db.',
      );
    }
  }
}
