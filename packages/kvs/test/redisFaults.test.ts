import { createServer, type Server, type Socket } from 'node:net';
import { describeWithRedis, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import {
  EphemeralRedisKVS,
  PersistentRedisKVS,
  RedisAuthError,
  resetRedisPersistenceWarnings,
  StoreUnavailableError,
} from '@learning-observer/kvs';

const quiet = { warn: () => undefined };

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('Redis unreachable or unresponsive (no redis-server needed)', () => {
  test('a closed port rejects with StoreUnavailableError naming host:port, within a few seconds', async () => {
    const port = await closedPort();
    const store = new PersistentRedisKVS({ connection: { host: '127.0.0.1', port }, logger: quiet });
    const started = Date.now();
    const err = await store.get('k').catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toContain(`Redis at 127.0.0.1:${port}/0`);
    expect((err as Error).message).toContain('ECONNREFUSED');
    // every operation fails the same way, writes included (never a silent no-op)
    await expect(store.set('k', 1)).rejects.toThrow(StoreUnavailableError);
    await expect(store.update('k', () => 1)).rejects.toThrow(StoreUnavailableError);
    await expect(store.keys()).rejects.toThrow(StoreUnavailableError);
    await store.close();
  });

  describe('a server that accepts connections but never answers', () => {
    let silent: Server;
    let port: number;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      silent = createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      port = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => silent.close(r));
    });

    test('times out with StoreUnavailableError after connectTimeoutMs', async () => {
      const store = new EphemeralRedisKVS({ expiry: 10, connection: { host: '127.0.0.1', port, connectTimeoutMs: 500 } });
      const started = Date.now();
      const err = await store.set('k', 1).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toContain(`Redis at 127.0.0.1:${port}/0 did not become ready within 500 ms`);
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(4000);
      await store.close();
    });
  });
});

describeWithRedis('Redis faults against a real redis-server', () => {
  test('a server killed mid-use gives typed errors, not a hang, and the store recovers after a restart', async () => {
    const server = await startRedisServer({ appendonly: true });
    const store = new PersistentRedisKVS({ prefix: 'kill:', connection: { ...server.connection, commandTimeoutMs: 2000 }, logger: quiet });
    try {
      await store.set('before', 1);
      let stop = false;
      let done = 0;
      const loop = (async () => {
        while (!stop) {
          await store.update('count', (v) => ((v as number | undefined) ?? 0) + 1);
          done++;
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      while (done < 20) await new Promise((r) => setTimeout(r, 5));
      const killedAt = Date.now();
      await server.kill('SIGKILL');
      const err = await loop;
      stop = true;
      expect(Date.now() - killedAt).toBeLessThan(5000);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toContain(`127.0.0.1:${server.port}/0`);
      await expect(store.get('before')).rejects.toThrow(StoreUnavailableError);

      await server.restart();
      expect(await store.get('before')).toBe(1); // appendonly kept it; the store reconnected by itself
      const count = (await store.get('count')) as number;
      expect(count).toBeGreaterThanOrEqual(done - 1);
      expect(await store.update('count', (v) => (v as number) + 1)).toBe(count + 1);
    } finally {
      await store.close();
      await server.stop();
    }
  });

  test('a server that stops answering mid-use: StoreUnavailableError after commandTimeoutMs, then recovery', async () => {
    const server = await startRedisServer();
    const store = new EphemeralRedisKVS({ expiry: 60, prefix: 'stall:', connection: { ...server.connection, commandTimeoutMs: 400 } });
    try {
      await store.set('k', 1);
      await server.kill('SIGSTOP');
      const started = Date.now();
      const err = await store.get('k').catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toContain(`Redis at 127.0.0.1:${server.port}/0 did not answer within 400 ms (commandTimeoutMs)`);
      expect(elapsed).toBeGreaterThanOrEqual(350);
      expect(elapsed).toBeLessThan(4000);
      await server.kill('SIGCONT');
      expect(await store.get('k')).toBe(1);
    } finally {
      await store.close();
      await server.stop();
    }
  });

  describe('AUTH', () => {
    let server: RedisServerHandle;
    beforeAll(async () => {
      server = await startRedisServer({ password: 'correct horse' });
    });
    afterAll(() => server.stop());

    test('the right password works', async () => {
      const store = new PersistentRedisKVS({ prefix: 'auth:', connection: server.connection, logger: quiet });
      await store.set('k', 'v');
      expect(await store.get('k')).toBe('v');
      await store.close();
    });

    test('the right password in a url works', async () => {
      const store = new PersistentRedisKVS({ prefix: 'auth:', connection: { url: server.url }, logger: quiet });
      expect(await store.get('k')).toBe('v');
      await store.close();
    });

    test('a wrong password is a clear RedisAuthError', async () => {
      const store = new PersistentRedisKVS({ connection: { ...server.connection, password: 'wrong' }, logger: quiet });
      const err = await store.get('k').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisAuthError);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toContain(`Redis at 127.0.0.1:${server.port}/0 refused authentication`);
      expect((err as Error).message).toContain('AUTH failed: check redis_connection.password');
      expect((err as Error).message).not.toContain('wrong');
      await store.close();
    });

    test('no password is a clear RedisAuthError too', async () => {
      const store = new PersistentRedisKVS({ connection: { host: server.host, port: server.port }, logger: quiet });
      await expect(store.get('k')).rejects.toThrow(/NOAUTH.*check redis_connection.password/);
      await store.close();
    });
  });

  describe('persistence warning of the `redis` backend', () => {
    const servers: RedisServerHandle[] = [];
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      resetRedisPersistenceWarnings();
    });

    test('warns once per server when it has neither appendonly nor save rules', async () => {
      const server = await startRedisServer();
      servers.push(server);
      const warnings: string[] = [];
      const logger = { warn: (m: string) => warnings.push(m) };
      const a = new PersistentRedisKVS({ prefix: 'a:', connection: server.connection, logger });
      const b = new PersistentRedisKVS({ prefix: 'b:', connection: { ...server.connection, db: 2 }, logger });
      await a.set('k', 1);
      await a.get('k');
      await b.set('k', 1);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`Redis server at 127.0.0.1:${server.port} does not persist data`);
      expect(warnings[0]).toContain('`appendonly yes`');
      expect(warnings[0]).toContain('`save` rule');
      // the ephemeral backend does not care
      const e = new EphemeralRedisKVS({ expiry: 5, connection: server.connection });
      await e.set('k', 1);
      expect(warnings).toHaveLength(1);
      await Promise.all([a.close(), b.close(), e.close()]);
    });

    test('does not warn for a server with appendonly yes, nor for one with a save rule', async () => {
      const aof = await startRedisServer({ appendonly: true });
      const rdb = await startRedisServer({ args: ['--save', '60 1'] });
      servers.push(aof, rdb);
      const warnings: string[] = [];
      const logger = { warn: (m: string) => warnings.push(m) };
      for (const server of [aof, rdb]) {
        const store = new PersistentRedisKVS({ connection: server.connection, logger });
        await store.set('k', 1);
        await store.close();
      }
      expect(warnings).toEqual([]);
    });

    test('is skipped quietly when CONFIG is not permitted', async () => {
      const server = await startRedisServer({ args: ['--rename-command', 'CONFIG', ''] });
      servers.push(server);
      const warnings: string[] = [];
      const store = new PersistentRedisKVS({ connection: server.connection, logger: { warn: (m: string) => warnings.push(m) } });
      await store.set('k', 1);
      expect(await store.get('k')).toBe(1);
      expect(warnings).toEqual([]);
      await store.close();
    });
  });
});
