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
