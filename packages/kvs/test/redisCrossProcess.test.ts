import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithRedis, runJsonChild, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { createRedisClient } from '@learning-observer/kvs';

const DIST = join(__dirname, '..', 'dist', 'backends', 'RedisKVSBase.js');
const CHILD = join(__dirname, 'fixtures', 'redis-increment.js');
const PROCESSES = 4;
const UPDATES = 500;

interface ChildResult {
  updates: number;
  calls: number;
}

const runChild = (args: string[], go: Promise<void>) => runJsonChild<ChildResult>(CHILD, args, go);

describeWithRedis('Redis update() across processes', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    if (!existsSync(DIST)) {
      throw new Error(`${DIST} is missing: this test runs the built backend in child processes. Run \`npm run build\` first (npm test does).`);
    }
    server = await startRedisServer();
  });
  afterAll(() => server?.stop());

  test.each(['redis', 'redis_ephemeral'])(
    `%s: ${PROCESSES} processes x ${UPDATES} increments of one key give exactly ${PROCESSES * UPDATES}`,
    async (type) => {
      const prefix = `xproc-${type}:`;
      let release!: () => void;
      const go = new Promise<void>((r) => (release = r));
      const children = Array.from({ length: PROCESSES }, () =>
        runChild([type, JSON.stringify(server.connection), prefix, 'counter', String(UPDATES)], go),
      );
      await new Promise((r) => setTimeout(r, 300)); // let every child load the backend first
      release();
      const results = await Promise.all(children);
      expect(results.map((r) => r.updates)).toEqual(Array(PROCESSES).fill(UPDATES));
      // The processes really contended: some compare-and-sets failed and their callbacks ran again.
      const calls = results.reduce((sum, r) => sum + r.calls, 0);
      expect(calls).toBeGreaterThan(PROCESSES * UPDATES);
      const raw = createRedisClient(server.connection);
      try {
        await raw.connect();
        expect(await raw.get(`${prefix}counter`)).toBe(String(PROCESSES * UPDATES));
        if (type === 'redis_ephemeral') expect(await raw.ttl(`${prefix}counter`)).toBeGreaterThan(500);
        else expect(await raw.ttl(`${prefix}counter`)).toBe(-1);
      } finally {
        raw.disconnect();
      }
    },
  );
});
