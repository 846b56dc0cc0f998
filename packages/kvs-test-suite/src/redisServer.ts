/// <reference types="jest" />
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { RedisConnectionSettings } from '@learning-observer/kvs';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Extra `redis-server` command-line arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
  /** Starts the server with `--requirepass <password>`; `connection` and `url` carry it. */
  password?: string;
  /** `--appendonly yes` when true (default: `--appendonly no`, and `--save ''` unless `args` sets `--save`). */
  appendonly?: boolean;
}

/** A throwaway `redis-server` started by {@link startRedisServer}. */
export interface RedisServerHandle {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The loopback port the server listens on (kept across `restart()`). */
  readonly port: number;
  /** The server's working directory (RDB/AOF files), removed by `stop()`. */
  readonly dir: string;
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string;
  /** Connection settings for the kvs Redis backends (`host`, `port`, `password`). */
  readonly connection: RedisConnectionSettings;
  /** The running process id, or `undefined` when the server is not running. */
  readonly pid: number | undefined;
  /** Kills the server, waits for it to exit and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Sends `signal` (default `SIGKILL`) and waits for the process to exit; the directory is kept.
   * `SIGSTOP`/`SIGCONT` pause and resume the server (an unresponsive server) without waiting.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port and directory (stopping it first if it runs). */
  restart(): Promise<void>;
}

const BINARY = 'redis-server';
let availability: boolean | undefined;

/**
 * Whether a `redis-server` executable is on `PATH`.
 *
 * @example
 * if (!redisServerAvailable()) console.warn('Redis tests will be skipped');
 */
export function redisServerAvailable(): boolean {
  if (availability === undefined) {
    availability = (process.env.PATH ?? '').split(delimiter).some((dir) => {
      if (!dir) return false;
      try {
        accessSync(join(dir, BINARY), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  }
  return availability;
}

/**
 * `describe(name, fn)` when `redis-server` is available. Without it, the suite is skipped with a
 * loud warning saying how to enable it, except under `CI=true`, where a failing test is registered
 * instead (CI must run the Redis suites).
 *
 * @example
 * describeWithRedis('PersistentRedisKVS', () => {
 *   let server: RedisServerHandle;
 *   beforeAll(async () => { server = await startRedisServer(); });
 *   afterAll(() => server.stop());
 *   test('...', async () => { ... });
 * });
 */
export function describeWithRedis(name: string, fn: () => void): void {
  if (redisServerAvailable()) {
    describe(name, fn);
    return;
  }
  const howTo =
    `install Redis (e.g. \`apt-get install redis-server\` or \`brew install redis\`) so that \`${BINARY}\` is on PATH, ` +
    'then run the tests again.';
  if (process.env.CI === 'true') {
    describe(name, () => {
      test(`${BINARY} is required in CI`, () => {
        throw new Error(`"${name}" needs a real Redis server, and CI=true forbids skipping it: ${howTo}`);
      });
    });
    return;
  }
  console.warn(
    `\n*** SKIPPING "${name}": ${BINARY} was not found on PATH. ***\n` +
      `*** To run the Redis tests, ${howTo} ***\n`,
  );
  describe.skip(name, fn);
}

/** Every process started here, killed synchronously if this process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * A detached shell that kills `pid` once this process is gone (even after SIGKILL, when no exit
 * hook runs), so no redis-server outlives a crashed test run.
 */
function startWatchdog(pid: number): ChildProcess | undefined {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${pid} 2>/dev/null`;
  try {
    const dog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
    dog.on('error', () => undefined);
    dog.unref();
    return dog;
  } catch {
    return undefined;
  }
}

/**
 * A loopback TCP port that was free a moment ago (binds port 0, reads the port, closes): for a
 * server a test starts itself, or for a port where nothing listens.
 *
 * @example
 * ```ts
 * const port = await freePort(); // e.g. a Redis URL that must be refused: redis://127.0.0.1:<port>
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves with the first reply line to PING, or undefined when nothing answers. */
function ping(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let buffer = '';
    const done = (reply: string | undefined) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(1000, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\r\n');
      if (end >= 0) done(buffer.slice(0, end));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class PortInUse extends Error {}

/** Signals that pause or resume the process instead of ending it: `kill()` does not wait for an exit. */
const PAUSE_SIGNALS = new Set<NodeJS.Signals>(['SIGSTOP', 'SIGCONT', 'SIGTSTP']);

/**
 * Starts a throwaway `redis-server` (from PATH) on a free loopback port, in a fresh temporary
 * directory, without persistence unless asked (`--save ''`, `--appendonly no`), and waits until it
 * answers PING. Always `stop()` it (e.g. in `afterAll`); it is also killed when this process exits.
 *
 * @example
 * const server = await startRedisServer({ password: 's3cret' });
 * const store = new PersistentRedisKVS({ connection: server.connection, prefix: 't1:' });
 * // ...
 * await store.close();
 * await server.stop();
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  if (!redisServerAvailable()) {
    throw new Error(`${BINARY} is not on PATH; install Redis to run this test (see describeWithRedis).`);
  }
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'lo-redis-'));
  const extra = options.args ?? [];
  const has = (flag: string) => extra.includes(flag);

  const argsFor = (port: number): string[] => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', ''];
    if (!has('--appendonly')) args.push('--appendonly', options.appendonly ? 'yes' : 'no');
    if (!has('--save')) args.push('--save', '');
    if (options.password !== undefined) args.push('--requirepass', options.password);
    return [...args, ...extra];
  };

  let child: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (port: number): Promise<void> => {
    const proc = spawn(BINARY, argsFor(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    proc.stdout?.on('data', (c) => (log = (log + c.toString()).slice(-8000)));
    proc.stderr?.on('data', (c) => (log = (log + c.toString()).slice(-8000)));
    let hasExited = false;
    let exitInfo = '';
    exited = new Promise<void>((resolve) => {
      proc.on('exit', (code, signal) => {
        hasExited = true;
        exitInfo = signal ? `signal ${signal}` : `code ${code}`;
        live.delete(proc);
        resolve();
      });
      proc.on('error', (err) => {
        hasExited = true;
        exitInfo = err.message;
        live.delete(proc);
        resolve();
      });
    });
    live.add(proc);
    child = proc;
    if (proc.pid !== undefined) watchdog = startWatchdog(proc.pid);

    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      if (hasExited) break;
      const reply = await ping(port);
      // A server with requirepass answers PING with -NOAUTH: it is up.
      if (reply !== undefined && (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'))) return;
      await sleep(30);
    }
    if (!hasExited) {
      proc.kill('SIGKILL');
      await exited;
    }
    stopWatchdog();
    if (/address already in use/i.test(log)) throw new PortInUse(log);
    throw new Error(`redis-server on port ${port} did not start (${exitInfo || 'no PONG within 15 s'}). Its output:\n${log}`);
  };

  const stopWatchdog = () => {
    if (watchdog) {
      try {
        watchdog.kill('SIGKILL');
      } catch {
        // gone
      }
      watchdog = undefined;
    }
  };

  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await launch(port);
      break;
    } catch (err) {
      if (!(err instanceof PortInUse) || attempt >= 8) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const isRunning = () => child !== undefined && live.has(child);
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (PAUSE_SIGNALS.has(signal)) {
      if (isRunning()) child!.kill(signal);
      return;
    }
    if (isRunning()) {
      child!.kill(signal);
      await exited;
    }
    stopWatchdog();
  };
  const password = options.password;
  const auth = password !== undefined ? `:${encodeURIComponent(password)}@` : '';
  const connection: RedisConnectionSettings = { host: '127.0.0.1', port };
  if (password !== undefined) connection.password = password;
  let stopped = false;

  return {
    host: '127.0.0.1',
    port,
    dir,
    url: `redis://${auth}127.0.0.1:${port}`,
    connection,
    get pid() {
      return isRunning() ? child!.pid : undefined;
    },
    kill,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      if (stopped) throw new Error('This redis-server was stopped (its directory is gone); start a new one.');
      await kill('SIGTERM');
      await launch(port);
    },
  };
}

/**
 * The `redis-server --version` line (for test diagnostics), or `undefined` when the binary is missing.
 *
 * @example
 * console.log(redisServerVersion()); // "Redis server v=7.0.15 ..."
 */
export function redisServerVersion(): string | undefined {
  if (!redisServerAvailable()) return undefined;
  const out = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  return out.stdout?.trim() || undefined;
}
