import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeWithRedis, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { writeSampleLog } from '@learning-observer/examples';
import { EXIT } from '../src';
import { lo, tempDir, writeFile } from './helpers';

/** The creds.yaml shown in the README's "Running against Redis" section. */
function readmeRedisCreds(): string {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const match = /<!-- redis-creds:[^\n]*-->\n\s*```yaml\n([\s\S]*?)\n\s*```/.exec(readme);
  if (match === null) throw new Error('packages/cli/README.md has no "redis-creds" YAML block under "Running against Redis".');
  return match[1].replace(/^ {3}/gm, '');
}

describeWithRedis('lo against Redis with the README settings', () => {
  let server: RedisServerHandle;
  let dir: string;

  beforeAll(async () => {
    server = await startRedisServer({ appendonly: true });
    dir = tempDir('lo-redis-');
  });
  afterAll(async () => {
    await server?.stop();
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('config check resolves default -> redis; the demo prints the same table as on the filesystem store', async () => {
    const creds = readmeRedisCreds();
    expect(creds).toMatch(/^\s+port: 6379$/m);
    const onRedis = path.join(dir, 'redis');
    const onFiles = path.join(dir, 'files');
    fs.mkdirSync(onRedis);
    fs.mkdirSync(onFiles);
    writeFile(onRedis, 'creds.yaml', creds.replace(/port: 6379/, `port: ${server.port}`).replace(/host: localhost/, `host: ${server.host}`));
    const log = path.join(dir, 'small.jsonl.gz');
    await writeSampleLog(log, { students: 3, eventsPerStudent: 40, seed: 9 });

    const check = await lo(['config', 'check', '--json'], { cwd: onRedis });
    expect(check.code).toBe(EXIT.OK);
    expect(JSON.parse(check.out).backends).toEqual([{ name: 'default', type: 'redis', className: 'PersistentRedisKVS', volatile: false }]);

    const redisDemo = await lo(['demo', '--log', log, '--json', '--no-progress'], { cwd: onRedis });
    expect([redisDemo.code, redisDemo.err]).toEqual([EXIT.OK, '']);
    const fileDemo = await lo(['demo', '--log', log, '--json', '--no-progress'], { cwd: onFiles });
    const [r, f] = [JSON.parse(redisDemo.out), JSON.parse(fileDemo.out)];
    expect(r.replay.store).toEqual({ name: 'default', type: 'redis' });
    expect(r.replay.batchSize).toBeNull();
    expect(r.students.map((s: any) => s.events)).toEqual([40, 40, 40]);
    expect(r.students).toEqual(f.students);

    const keys = JSON.parse((await lo(['kvs', 'keys', '--json'], { cwd: onRedis })).out);
    expect(keys).toHaveLength(r.replay.keysWritten);
  });
});
