import type { Redis, RedisOptions } from 'ioredis';
import { CorruptValueError, KVSError, StoreUnavailableError, StoreWriteError } from './errors';

/**
 * Where and how to reach Redis (the `redis_connection` block of the settings file).
 *
 * Defaults: `localhost:6379`, db 0, no password, no TLS, `connectTimeoutMs` 3000,
 * `commandTimeoutMs` 5000. When `url` is given (`redis://[user:password@]host:port[/db]`, or
 * `rediss://` for TLS) it is read first, and the explicit fields override its parts.
 *
 * @example
 * const settings: RedisConnectionSettings = { host: 'redis.internal', port: 6380, password: 'secret', db: 2 };
 */
export interface RedisConnectionSettings {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
  url?: string;
  /** `true` for TLS with Node's defaults, or Node `tls.connect` options. */
  tls?: boolean | object;
  /** Longest wait for a connection (TCP, AUTH, SELECT, ready check) before `StoreUnavailableError`. */
  connectTimeoutMs?: number;
  /** Longest wait for one command's reply before `StoreUnavailableError`. */
  commandTimeoutMs?: number;
}

/** {@link RedisConnectionSettings} with every default filled in and `url` folded into the fields. */
export interface ResolvedRedisSettings {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: object;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** Redis refused the credentials (wrong or missing password / user). */
export class RedisAuthError extends StoreUnavailableError {}

const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/**
 * Fills in defaults and folds `url` into the explicit fields (explicit fields win).
 *
 * @example
 * resolveRedisSettings({ url: 'redis://:pw@example.org:6380/2' });
 * // { host: 'example.org', port: 6380, password: 'pw', db: 2, connectTimeoutMs: 3000, commandTimeoutMs: 5000 }
 */
export function resolveRedisSettings(settings: RedisConnectionSettings = {}): ResolvedRedisSettings {
  let fromUrl: Partial<ResolvedRedisSettings> = {};
  if (settings.url) {
    let parsed: URL;
    try {
      parsed = new URL(settings.url);
    } catch {
      throw new KVSError(`redis_connection.url ${JSON.stringify(settings.url)} is not a URL; write it as redis://[user:password@]host:port[/db].`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new KVSError(`redis_connection.url must start with redis:// or rediss://; got ${parsed.protocol}//.`);
    }
    const dbText = parsed.pathname.replace(/^\//, '');
    fromUrl = {
      host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || undefined,
      port: parsed.port ? Number(parsed.port) : undefined,
      username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
      password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
      db: dbText ? Number(dbText) : undefined,
      tls: parsed.protocol === 'rediss:' ? {} : undefined,
    };
    if (fromUrl.db !== undefined && !Number.isInteger(fromUrl.db)) {
      throw new KVSError(`redis_connection.url ${JSON.stringify(settings.url)}: the path must be a db number, e.g. /0.`);
    }
  }
  const tls = settings.tls === undefined ? fromUrl.tls : settings.tls === true ? {} : settings.tls === false ? undefined : settings.tls;
  const resolved: ResolvedRedisSettings = {
    host: settings.host ?? fromUrl.host ?? 'localhost',
    port: settings.port ?? fromUrl.port ?? 6379,
    db: settings.db ?? fromUrl.db ?? 0,
    connectTimeoutMs: settings.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeoutMs: settings.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
  };
  const username = settings.username ?? fromUrl.username;
  const password = settings.password ?? fromUrl.password;
  if (username !== undefined) resolved.username = username;
  if (password !== undefined) resolved.password = password;
  if (tls !== undefined) resolved.tls = tls;
  return resolved;
}

/**
 * A short description of the Redis target for messages and logs: `host:port/db`. Never contains
 * the password.
 *
 * @example
 * describeRedisTarget({ host: 'cache', password: 'x', db: 3 }); // "cache:6379/3"
 */
export function describeRedisTarget(settings: RedisConnectionSettings = {}): string {
  const r = resolveRedisSettings(settings);
  const host = r.host.includes(':') ? `[${r.host}]` : r.host;
  return `${host}:${r.port}/${r.db}`;
}

/**
 * Creates a new, not yet connected ioredis client for `settings`, configured to fail fast: no
 * offline queue, no automatic reconnection, no silent re-sending of commands after a lost
 * connection, and connect/command timeouts. `ioredis` is loaded here, on first use, so programs
 * that never configure Redis never load it.
 *
 * Most code should use {@link RedisConnection}, which connects on demand (again after a
 * failure), selects the db and turns every failure into a typed error naming `host:port`.
 *
 * @example
 * const client = createRedisClient({ port: 6380 });
 * await client.connect();
 * await client.ping();
 * client.disconnect();
 */
export function createRedisClient(settings: RedisConnectionSettings = {}): Redis {
  const r = resolveRedisSettings(settings);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const IORedis = require('ioredis') as typeof import('ioredis');
  const options: RedisOptions = {
    host: r.host,
    port: r.port,
    db: r.db,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: true,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: r.connectTimeoutMs,
    disconnectTimeout: 500,
    commandTimeout: r.commandTimeoutMs,
  };
  if (r.username !== undefined) options.username = r.username;
  if (r.password !== undefined) options.password = r.password;
  if (r.tls !== undefined) options.tls = r.tls as RedisOptions['tls'];
  const client = new IORedis.Redis(options);
  // Without a listener, ioredis prints "Unhandled error event"; RedisConnection reports errors itself.
  client.on('error', () => undefined);
  return client;
}

/**
 * Disconnects `client` unless it is already closed (ioredis would otherwise arm a timer on the
 * dead socket that keeps the process alive for its disconnect timeout).
 */
function dropClient(client: Redis): void {
  if (client.status !== 'end') client.disconnect();
}

const AUTH_ERROR = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i;
const UNAVAILABLE_ERROR =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Connection is closed|Stream isn't writeable|timed out|LOADING|MaxRetriesPerRequest|socket/i;

/**
 * One Redis connection with fail-loud behaviour: it connects on demand (and again on the next
 * call after a lost connection), bounds every wait, and turns every failure into a typed error
 * naming `host:port/db`: {@link RedisAuthError} for refused credentials, `StoreUnavailableError`
 * for an unreachable, dead or slow server, `StoreWriteError` when Redis refuses a write (out of
 * memory, read-only replica, failed disk), `CorruptValueError` for a key of another Redis type.
 *
 * @example
 * const conn = new RedisConnection({ port: 6380 });
 * const value = await conn.run('GET k', (c) => c.get('k'));
 * await conn.close();
 */
export class RedisConnection {
  /** `host:port/db`, for messages. */
  readonly target: string;
  readonly settings: ResolvedRedisSettings;
  private readonly rawSettings: RedisConnectionSettings;
  private client: Redis | undefined;
  private connecting: Promise<Redis> | undefined;
  private lastError: Error | undefined;
  private readonly onConnectHooks: ((client: Redis) => Promise<void>)[] = [];

  constructor(settings: RedisConnectionSettings = {}) {
    this.settings = resolveRedisSettings(settings);
    this.target = describeRedisTarget(settings);
    this.rawSettings = settings;
  }

  /** Runs `hook` after every (re)connection, before any command; its errors are ignored. */
  onConnect(hook: (client: Redis) => Promise<void>): void {
    this.onConnectHooks.push(hook);
  }

  /** The connected client, connecting first when needed (bounded by `connectTimeoutMs`). */
  async ready(): Promise<Redis> {
    if (this.client && this.client.status === 'ready' && !this.connecting) return this.client;
    if (!this.connecting) {
      this.connecting = this.connect().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  /**
   * Runs one or more commands on the connected client and maps failures to typed errors.
   * `what` names the operation in messages (e.g. `GET "key"`).
   */
  async run<T>(what: string, fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = await this.ready();
    try {
      return await fn(client);
    } catch (err) {
      const translated = this.translate(err, what);
      // After a timeout or a lost connection, start afresh on the next call.
      if (translated instanceof StoreUnavailableError && this.client === client) {
        this.client = undefined;
        dropClient(client);
      }
      throw translated;
    }
  }

  /** Quits the connection (or drops it when the server does not answer). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.quit(),
          new Promise((resolve) => {
            timer = setTimeout(resolve, 1000);
          }),
        ]);
      } catch {
        // the server went away meanwhile; disconnect below
      } finally {
        clearTimeout(timer);
      }
    }
    dropClient(client);
  }

  private async connect(): Promise<Redis> {
    const { connectTimeoutMs, db } = this.settings;
    if (this.client) dropClient(this.client);
    const client = createRedisClient(this.rawSettings);
    this.client = client;
    this.lastError = undefined;
    client.on('error', (err: Error) => {
      this.lastError = err;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`Redis at ${this.target} did not become ready within ${connectTimeoutMs} ms. ${this.hint()}`)),
        connectTimeoutMs,
      );
    });
    try {
      await Promise.race([
        (async () => {
          try {
            await client.connect();
          } catch (err) {
            throw this.translate(this.lastError ?? err, 'connect');
          }
          if (db !== 0) {
            try {
              await client.select(db);
            } catch (err) {
              throw new StoreUnavailableError(
                `Redis at ${this.target} refused to select db ${db} (${(err as Error).message}); check redis_connection.db.`,
                { cause: err },
              );
            }
          }
          for (const hook of this.onConnectHooks) {
            try {
              await hook(client);
            } catch {
              // hooks are advisory (e.g. the persistence check)
            }
          }
        })(),
        timeout,
      ]);
    } catch (err) {
      dropClient(client);
      if (this.client === client) this.client = undefined;
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  private hint(): string {
    return 'Check that redis-server is running and that redis_connection (host, port, tls) points at it.';
  }

  /** Maps an ioredis error to a kvs error naming the target. */
  translate(err: unknown, what: string): Error {
    if (err instanceof KVSError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: string })?.code;
    if (AUTH_ERROR.test(message)) {
      return new RedisAuthError(
        `Redis at ${this.target} refused authentication (${message}). AUTH failed: check redis_connection.password` +
          `${this.settings.username !== undefined ? ' and redis_connection.username' : ''}.`,
        { cause: err },
      );
    }
    if (/^WRONGTYPE/.test(message)) {
      return new CorruptValueError(
        `${what} on Redis at ${this.target}: the key holds a non-string Redis value (${message}). ` +
          'Another program uses this key; give this store its own `prefix` or db.',
        { cause: err },
      );
    }
    if (/^(OOM|READONLY|MISCONF|NOREPLICAS)/.test(message)) {
      return new StoreWriteError(`${what} on Redis at ${this.target} was refused: ${message}. Nothing was written.`, { cause: err });
    }
    if (/Command timed out/i.test(message)) {
      return new StoreUnavailableError(
        `${what}: Redis at ${this.target} did not answer within ${this.settings.commandTimeoutMs} ms (commandTimeoutMs); ` +
          'a write may or may not have been applied. Check the server\'s load and health.',
        { cause: err },
      );
    }
    if ((code && UNAVAILABLE_ERROR.test(code)) || UNAVAILABLE_ERROR.test(message) || what === 'connect') {
      if (what === 'connect') {
        return new StoreUnavailableError(`Cannot connect to Redis at ${this.target} (${message}). ${this.hint()}`, { cause: err });
      }
      return new StoreUnavailableError(
        `${what} failed: lost or no connection to Redis at ${this.target} (${message}); a write in flight may or may not ` +
          `have been applied. ${this.hint()}`,
        { cause: err },
      );
    }
    return new KVSError(`${what} on Redis at ${this.target} failed: ${message}`, { cause: err });
  }
}
