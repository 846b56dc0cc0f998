import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { BaseKVS } from '../BaseKVS';
import { CorruptValueError, KVSError, StoreUnavailableError, UnscopedClearError } from '../errors';
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

/** Most compare-and-sets one script call carries; a larger flush is sent as several calls. */
const CAS_ITEMS_PER_CALL = 512;
/** Most characters of keys and values one script call carries (one larger item still goes alone). */
const CAS_CHARS_PER_CALL = 1024 * 1024;

/**
 * Several compare-and-sets in one call, applied one after the other, each atomically on its own
 * (the whole call is atomic too: Redis runs a script without interleaving other commands).
 *
 * ARGV[1] is the TTL in seconds ('0' = none). Then, per item, KEYS holds its `n` keys (the
 * transaction's key, then the `alsoSet` keys) and ARGV holds `n + 4` values: `n`; '1' when the key
 * existed at the read, '0' when it did not; the raw value read; '1' to write the key; then the new
 * value of each of its `n` keys (the first is ignored when the key is not written).
 *
 * Returns one entry per item: 1 when written, 0 when its key had changed (nothing written), or the
 * error text of the command that failed for it. Commands run through `redis.pcall`, so an error
 * (a key of another Redis type) stops only its own item. The script walks KEYS and ARGV by index
 * and never calls `unpack`, so any number of items fits Lua's stack.
 */
const COMPARE_AND_SET_MANY = `
local ttl = tonumber(ARGV[1])
local function failure(reply)
  if type(reply) == 'table' and reply.err then return reply.err end
  return nil
end
local function put(key, value)
  if ttl > 0 then return failure(redis.pcall('SET', key, value, 'EX', ttl)) end
  return failure(redis.pcall('SET', key, value))
end
local function apply(k, a, n)
  local current = redis.pcall('GET', KEYS[k])
  local err = failure(current)
  if err then return err end
  if ARGV[a + 1] == '1' then
    if current ~= ARGV[a + 2] then return 0 end
  elseif current then
    return 0
  end
  if ARGV[a + 3] == '1' then
    err = put(KEYS[k], ARGV[a + 4])
    if err then return err end
  end
  for j = 1, n - 1 do
    err = put(KEYS[k + j], ARGV[a + 4 + j])
    if err then return err end
  end
  return 1
end
local results = {}
local k, a = 1, 2
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  results[#results + 1] = apply(k, a, n)
  k = k + n
  a = a + 4 + n
end
return results
`;
const COMPARE_AND_SET_MANY_SHA = createHash('sha1').update(COMPARE_AND_SET_MANY).digest('hex');

/** One compare-and-set of a transaction, as the script takes it. */
interface CompareAndSet {
  /** Names the update in error messages. */
  what: string;
  /** Redis keys: the transaction's key, then its `alsoSet` keys. */
  keys: string[];
  /** The raw value the transaction read, or `null` when the key did not exist. */
  expected: string | null;
  /** Whether to write `keys[0]` (a transaction without `value` writes only its `alsoSet` keys). */
  writeFirst: boolean;
  /** The new raw value of each key of `keys` (the first is ignored unless `writeFirst`). */
  values: string[];
}

/** A compare-and-set waiting for the next flush. */
interface PendingCompareAndSet extends CompareAndSet {
  resolve: (written: number) => void;
  reject: (err: unknown) => void;
}

/** Characters of keys and values `item` adds to a script call. */
function compareAndSetChars(item: CompareAndSet): number {
  let chars = item.expected?.length ?? 0;
  for (let i = 0; i < item.keys.length; i++) chars += item.keys[i].length + item.values[i].length;
  return chars;
}

/**
 * Splits a flush into script calls of at most {@link CAS_ITEMS_PER_CALL} items and about
 * {@link CAS_CHARS_PER_CALL} characters, keeping the items' order.
 */
function splitCompareAndSets<T extends CompareAndSet>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  const calls: T[][] = [];
  let call: T[] = [];
  let chars = 0;
  for (const item of items) {
    const size = compareAndSetChars(item);
    if (call.length > 0 && (call.length >= CAS_ITEMS_PER_CALL || chars + size > CAS_CHARS_PER_CALL)) {
      calls.push(call);
      call = [];
      chars = 0;
    }
    call.push(item);
    chars += size;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

/** The KEYS and ARGV of one {@link COMPARE_AND_SET_MANY} call (without the key count). */
function compareAndSetArguments(items: readonly CompareAndSet[], ttl: number): { keyCount: number; args: string[] } {
  const keys: string[] = [];
  const argv: string[] = [String(ttl)];
  for (const item of items) {
    for (const key of item.keys) keys.push(key);
    argv.push(String(item.keys.length), item.expected === null ? '0' : '1', item.expected ?? '', item.writeFirst ? '1' : '0');
    for (const value of item.values) argv.push(value);
  }
  return { keyCount: keys.length, args: keys.concat(argv) };
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
 *   are also queued in-process, so they do not conflict with each other. The compare-and-sets
 *   issued in one turn of the event loop travel together as one script call (up to 512 per call),
 *   which applies them in order, each on its own: one whose key changed is skipped and retried
 *   without holding back the others.
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
      const values = [
        text,
        // The same object in value and alsoSet (a reducer's [state, state]) is serialised once.
        ...alsoSet.map(([, v]) => (v === result.value && result.value !== undefined ? text : JSON.stringify(v))),
      ];
      let written: number;
      try {
        written = await this.queueCompareAndSet({ what, keys, expected: raw, writeFirst: result.value !== undefined, values });
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
   * Sends a compare-and-set together with the others issued in the same turn of the event loop:
   * all of them in one script call (several calls for a very large flush, see
   * {@link splitCompareAndSets}), instead of one command per update.
   */
  private queueCompareAndSet(item: CompareAndSet): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.casBatch === undefined) {
        this.casBatch = [];
        setImmediate(() => this.flushCompareAndSets());
      }
      this.casBatch.push({ ...item, resolve, reject });
    });
  }

  private flushCompareAndSets(): void {
    const batch = this.casBatch ?? [];
    this.casBatch = undefined;
    for (const call of splitCompareAndSets(batch)) this.sendCompareAndSets(call);
  }

  /**
   * Runs `items` as one script call and settles each item's promise with its own outcome. When
   * the call as a whole fails with a server error (not a lost connection), each item is sent again
   * on its own, so that every caller gets its own typed error (or its write, when the error was not
   * the item's).
   */
  private sendCompareAndSets(items: PendingCompareAndSet[]): void {
    const what = items.length === 1 ? items[0].what : `${items.length} batched updates`;
    this.connection.run(what, (c) => this.evalCompareAndSets(c, items)).then(
      (replies) => items.forEach((item, i) => this.settleCompareAndSet(item, replies[i])),
      (err) => {
        if (items.length > 1 && !(err instanceof StoreUnavailableError)) {
          for (const item of items) this.sendCompareAndSets([item]);
        } else {
          for (const item of items) item.reject(err);
        }
      },
    );
  }

  /** Resolves `item` with its script reply (1 or 0), or rejects it with the error its command got. */
  private settleCompareAndSet(item: PendingCompareAndSet, reply: unknown): void {
    if (reply === 0 || reply === 1) item.resolve(reply);
    else if (typeof reply === 'string') item.reject(this.connection.translate(new Error(reply), item.what));
    else item.reject(new KVSError(`${item.what} on Redis at ${this.target} got an unexpected reply ${JSON.stringify(reply)}; nothing is known about its write.`));
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

  /**
   * Runs {@link COMPARE_AND_SET_MANY} over `items` by its SHA, loading the script (EVAL) when the
   * server does not have it (first use, or after SCRIPT FLUSH / a restart).
   */
  private async evalCompareAndSets(client: Redis, items: readonly CompareAndSet[]): Promise<unknown[]> {
    const { keyCount, args } = compareAndSetArguments(items, this.expirySeconds ?? 0);
    let replies: unknown;
    try {
      replies = await client.evalsha(COMPARE_AND_SET_MANY_SHA, keyCount, args);
    } catch (err) {
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      replies = await client.eval(COMPARE_AND_SET_MANY, keyCount, args);
    }
    if (!Array.isArray(replies) || replies.length !== items.length) {
      throw new KVSError(
        `Redis at ${this.target} answered ${items.length} batched updates with ${JSON.stringify(replies)?.slice(0, 80)}; ` +
          'nothing is known about their writes. Check that the server is a real Redis (>= 6) and not a proxy that rewrites scripts.',
      );
    }
    return replies;
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
