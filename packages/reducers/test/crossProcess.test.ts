import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PersistentRedisKVS } from '@learning-observer/kvs';
import { describeWithRedis, runJsonChild, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { prng } from './helpers';

const DIST = join(__dirname, '..', 'dist', 'index.js');
const WORKER = join(__dirname, 'fixtures', 'pipeline-worker.js');

interface WorkerResult {
  events: number;
  results: number;
  errors: number;
}

const runWorker = (args: string[], go: Promise<void>) => runJsonChild<WorkerResult>(WORKER, args, go);

describeWithRedis('reducer pipeline across processes (Redis)', () => {
  let server: RedisServerHandle;
  let dir: string;
  let log: string;
  const EVENTS = 1200;

  beforeAll(async () => {
    if (!existsSync(DIST)) {
      throw new Error(`${DIST} is missing: this test runs the built pipeline in child processes. Run \`npm run build\` first (npm test does).`);
    }
    server = await startRedisServer();
    dir = mkdtempSync(join(tmpdir(), 'lo-reducers-xproc-'));
    log = join(dir, 'events.jsonl');
    const random = prng(2024);
    const lines: string[] = [];
    for (let i = 0; i < EVENTS; i++) {
      // few students and documents, so both processes keep hitting the same keys
      const student = `s${Math.floor(random() * 4)}`;
      const doc = `D${Math.floor(random() * 3)}`;
      const n = 1 + Math.floor(random() * 9);
      lines.push(JSON.stringify({ client: { source: 'org.test.xproc', event: 'edit', doc_id: doc, n }, metadata: { auth: { safe_user_id: student } } }));
    }
    writeFileSync(log, lines.join('\n') + '\n');
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function dump(prefix: string): Promise<Record<string, unknown>> {
    const store = new PersistentRedisKVS({ prefix, connection: server.connection, logger: { warn() {} } });
    try {
      return await store.dump();
    } finally {
      await store.close();
    }
  }

  test('two processes over interleaved halves of a log give the same final states as one process', async () => {
    const conn = JSON.stringify(server.connection);
    const single = await runWorker([conn, 'single:', log, '1', '0'], Promise.resolve());
    expect(single).toEqual({ events: EVENTS, results: 2 * EVENTS, errors: 0 });

    let release!: () => void;
    const go = new Promise<void>((r) => (release = r));
    const workers = [runWorker([conn, 'dual:', log, '2', '0'], go), runWorker([conn, 'dual:', log, '2', '1'], go)];
    await new Promise((r) => setTimeout(r, 300)); // let both load the pipeline before starting together
    release();
    const halves = await Promise.all(workers);
    expect(halves).toEqual([
      { events: EVENTS / 2, results: EVENTS, errors: 0 },
      { events: EVENTS / 2, results: EVENTS, errors: 0 },
    ]);

    const one = await dump('single:');
    const two = await dump('dual:');
    expect(Object.keys(one).length).toBeGreaterThan(8);
    expect(two).toEqual(one);
    const total = Object.entries(one)
      .filter(([k]) => k.startsWith('External,xproc.reducers.event_count,'))
      .reduce((sum, [, v]) => sum + (v as { count: number }).count, 0);
    expect(total).toBe(EVENTS);
  });
});
