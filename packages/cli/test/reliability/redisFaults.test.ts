/**
 * Issue 7, points 4 and 5, seen from the built `lo` binary (the kvs package tests the backends
 * themselves in packages/kvs/test/redisFaults.test.ts and redisKVS.test.ts):
 * - a `redis` backend on a server that does not persist warns once, naming the setting to change;
 * - an unreachable or silent Redis is a clear error naming host:port within a few seconds (exit 4);
 * - requirepass with the right and the wrong password; the configured db is the one written.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createRedisClient } from '@learning-observer/kvs';
import { describeWithRedis, freePort, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { generateEvents } from '@learning-observer/examples';
import { EXIT } from '../../src';
import { STACK_LINE, tempDir, writeFile } from '../helpers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'lo.js');
const DIST_MAIN = path.join(__dirname, '..', '..', 'dist', 'main.js');

let root: string;
let log: string;
beforeAll(() => {
  if (!fs.existsSync(DIST_MAIN)) {
    throw new Error(`${DIST_MAIN} is missing: these tests run the built CLI in a child process. Run \`npm run build\` first (npm test does).`);
  }
  root = tempDir('lo-redis-faults-');
  log = writeFile(root, 'small.jsonl', [...generateEvents({ students: 2, docsPerStudent: 1, eventsPerStudent: 20, seed: 3 })].map((e) => JSON.stringify(e)).join('\n') + '\n');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function runBin(args: string[], configYaml: string): Promise<{ code: number | null; out: string; err: string; ms: number; msAfterOutput: number }> {
  const dir = fs.mkdtempSync(path.join(root, 'p-'));
  writeFile(dir, 'creds.yaml', configYaml);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let lastOutput = started;
    child.stdout.on('data', (c) => {
      out += c;
      lastOutput = Date.now();
    });
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err, ms: Date.now() - started, msAfterOutput: Date.now() - lastOutput }));
  });
}

const redisYaml = (port: number, extra = '', type = 'redis') => `redis_connection:\n  host: 127.0.0.1\n  port: ${port}\n${extra}kvs:\n  default:\n    type: ${type}\n`;

describe('Redis unreachable at start (default timeouts)', () => {
  test('a closed port: exit 4, one line naming host:port, no stack trace, within a few seconds', async () => {
    const port = await freePort();
    for (const args of [['replay', log, '--no-progress'], ['kvs', 'keys']]) {
      const r = await runBin(args, redisYaml(port));
      expect([args[0], r.code]).toEqual([args[0], EXIT.STORE_UNAVAILABLE]);
      expect(r.err).toContain(`127.0.0.1:${port}`);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).not.toMatch(STACK_LINE);
      expect(r.ms).toBeLessThan(10000);
    }
  });

  test('a server that accepts connections but never answers: exit 4 naming host:port after the default connect timeout (3 s), not a hang', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const r = await runBin(['kvs', 'keys'], redisYaml(port));
      expect(r.code).toBe(EXIT.STORE_UNAVAILABLE);
      expect(r.err).toContain(`127.0.0.1:${port}`);
      expect(r.err).not.toMatch(STACK_LINE);
      expect(r.ms).toBeLessThan(10000);
    } finally {
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });
});

describeWithRedis('the built lo against real redis-servers', () => {
  const servers: RedisServerHandle[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  test('point 4: `redis` on a server without persistence warns once on stderr, naming appendonly and save; not with appendonly yes, not for redis_ephemeral', async () => {
    const plain = await startRedisServer();
    const aof = await startRedisServer({ appendonly: true });
    servers.push(plain, aof);
    const warned = await runBin(['replay', log, '--no-progress', '-m', 'writing_observer'], redisYaml(plain.port));
    expect(warned.code).toBe(EXIT.OK);
    const lines = warned.err.split('\n').filter((l) => l.includes('does not persist'));
    expect(lines).toEqual([expect.stringContaining(`Warning: the Redis server at 127.0.0.1:${plain.port} does not persist data`)]);
    expect(lines[0]).toContain('`appendonly yes`');
    expect(lines[0]).toContain('`save 60 1`');
    const keys = await runBin(['kvs', 'keys'], redisYaml(plain.port));
    expect(keys.err.split('\n').filter((l) => l.includes('does not persist'))).toHaveLength(1);

    const quiet = await runBin(['replay', log, '--no-progress', '-m', 'writing_observer'], redisYaml(aof.port));
    expect([quiet.code, quiet.err]).toEqual([EXIT.OK, '']);
    const ephemeral = await runBin(['replay', log, '--no-progress', '-m', 'writing_observer'], redisYaml(plain.port, '', 'redis_ephemeral\n    expiry: 60'));
    expect([ephemeral.code, ephemeral.err]).toEqual([EXIT.OK, '']);
  });

  test('point 5: requirepass with the right password works, a wrong or missing one is exit 4 naming host:port and the setting, never the password', async () => {
    const server = await startRedisServer({ password: 'correct horse', appendonly: true });
    servers.push(server);
    const right = await runBin(['replay', log, '--no-progress', '-m', 'toy_counter,writing_observer', '--json'], redisYaml(server.port, '  password: correct horse\n'));
    expect([right.code, right.err]).toEqual([EXIT.OK, '']);
    expect(JSON.parse(right.out).keysWritten).toBeGreaterThan(0);

    for (const extra of ['  password: wrong battery\n', '']) {
      const r = await runBin(['kvs', 'keys'], redisYaml(server.port, extra));
      expect(r.code).toBe(EXIT.STORE_UNAVAILABLE);
      expect(r.err).toContain(`127.0.0.1:${server.port}`);
      expect(r.err).toContain('redis_connection.password');
      expect(r.err).not.toContain('wrong battery');
      expect(r.err).not.toContain('correct horse');
      expect(r.err).not.toMatch(STACK_LINE);
      expect(r.ms).toBeLessThan(10000);
    }
  });

  test('`lo kvs get` of a 3 MB value exits as soon as it has printed it (no dependency timer keeps it alive)', async () => {
    const server = await startRedisServer({ appendonly: true });
    servers.push(server);
    const raw = createRedisClient(server.connection);
    await raw.connect();
    const text = 'x'.repeat(3_000_000);
    await raw.set('big', JSON.stringify({ text }));
    raw.disconnect();
    const r = await runBin(['kvs', 'get', 'big', '--json'], redisYaml(server.port));
    expect([r.code, r.err]).toEqual([EXIT.OK, '']);
    expect(JSON.parse(r.out)).toEqual({ text });
    // Without the explicit exit, ioredis's reply parser kept the process alive about 2.4 s here.
    expect(r.msAfterOutput).toBeLessThan(1000);
  });

  test('point 5: the configured db is the one written, and only it', async () => {
    const server = await startRedisServer({ appendonly: true });
    servers.push(server);
    const r = await runBin(['replay', log, '--no-progress', '-m', 'writing_observer', '--json'], redisYaml(server.port, '  db: 5\n'));
    expect(r.code).toBe(EXIT.OK);
    const written = JSON.parse(r.out).keysWritten as number;
    const raw = createRedisClient(server.connection);
    try {
      await raw.connect();
      const sizes: number[] = [];
      for (let db = 0; db < 8; db++) {
        await raw.select(db);
        sizes.push(await raw.dbsize());
      }
      // db 5 holds the keys written plus the replay's connectivity probe (a read: no key).
      expect(sizes).toEqual([0, 0, 0, 0, 0, written, 0, 0]);
    } finally {
      raw.disconnect();
    }
    const listed = await runBin(['kvs', 'keys', '--json'], redisYaml(server.port, '  db: 5\n'));
    expect(JSON.parse(listed.out)).toHaveLength(written);
    const other = await runBin(['kvs', 'keys', '--json'], redisYaml(server.port));
    expect(JSON.parse(other.out)).toEqual([]);
  });
});
