import { createConnection } from 'node:net';
import { existsSync } from 'node:fs';
import { describeWithRedis, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';

function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    s.on('error', reject);
    s.on('connect', () => s.write(line + '\r\n'));
    s.on('data', (c) => {
      buf += c.toString();
      if (buf.endsWith('\r\n')) {
        s.destroy();
        resolve(buf.trim());
      }
    });
  });
}

describeWithRedis('startRedisServer (test helper)', () => {
  let server: RedisServerHandle;
  afterEach(async () => {
    await server?.stop();
  });

  test('starts on a free port in a temp dir, restarts on the same port, and stop() cleans up', async () => {
    server = await startRedisServer();
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.connection).toEqual({ host: '127.0.0.1', port: server.port });
    expect(await command(server.port, 'PING')).toBe('+PONG');
    expect(await command(server.port, 'CONFIG GET appendonly')).toContain('no');
    await server.kill();
    expect(server.pid).toBeUndefined();
    await expect(command(server.port, 'PING')).rejects.toThrow(/ECONNREFUSED/);
    await server.restart();
    expect(await command(server.port, 'PING')).toBe('+PONG');
    const dir = server.dir;
    await server.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(command(server.port, 'PING')).rejects.toThrow(/ECONNREFUSED/);
  });

  test('password and appendonly options', async () => {
    server = await startRedisServer({ password: 'p@ss', appendonly: true });
    expect(server.url).toBe(`redis://:p%40ss@127.0.0.1:${server.port}`);
    expect(server.connection.password).toBe('p@ss');
    expect(await command(server.port, 'PING')).toMatch(/^-NOAUTH/);
    expect(await command(server.port, 'AUTH p@ss')).toBe('+OK');
  });
});

describe('describeWithRedis without a redis-server binary', () => {
  test('skips loudly, except under CI=true where it registers a failing test', () => {
    const saved = { PATH: process.env.PATH, CI: process.env.CI };
    const g = globalThis as unknown as Record<string, unknown>;
    const savedGlobals = { describe: g.describe, test: g.test };
    const calls: string[] = [];
    const registered: (() => void)[] = [];
    const fakeDescribe = Object.assign(
      (name: string, fn: () => void) => {
        calls.push(`describe ${name}`);
        fn();
      },
      { skip: (name: string) => calls.push(`skip ${name}`) },
    );
    const fakeTest = (name: string, fn: () => void) => {
      calls.push(`test ${name}`);
      registered.push(fn);
    };
    const warnings: string[] = [];
    const warn = jest.spyOn(console, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
    try {
      process.env.PATH = '/nonexistent-dir-for-this-test';
      g.describe = fakeDescribe;
      g.test = fakeTest;
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require('../../kvs-test-suite/src/redisServer') as typeof import('../../kvs-test-suite/src/redisServer');
        expect(mod.redisServerAvailable()).toBe(false);
        delete process.env.CI;
        mod.describeWithRedis('suite A', () => calls.push('body A'));
        process.env.CI = 'true';
        mod.describeWithRedis('suite B', () => calls.push('body B'));
      });
    } finally {
      g.describe = savedGlobals.describe;
      g.test = savedGlobals.test;
      process.env.PATH = saved.PATH;
      if (saved.CI === undefined) delete process.env.CI;
      else process.env.CI = saved.CI;
      warn.mockRestore();
    }
    expect(calls).toEqual(['skip suite A', 'describe suite B', 'test redis-server is required in CI']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('SKIPPING "suite A": redis-server was not found on PATH');
    expect(warnings[0]).toContain('install Redis');
    expect(registered[0]).toThrow(/"suite B" needs a real Redis server, and CI=true forbids skipping it/);
  });
});
