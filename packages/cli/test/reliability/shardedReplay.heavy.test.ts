/**
 * Issue 7, point 1: no lost updates across processes. Four `lo replay` processes replay
 * overlapping shards of one 100k-event log at the same time into one store (a Redis server, then
 * a filesystem store). Every student's events are in one, two or all four shards, so the
 * processes contend for the same keys; `--sequence-path server.seq` (the event's position in the
 * whole log) makes each (reducer, key, event) apply exactly once, in log order, whichever
 * process gets there first. The final per-student event counts and time on task, and every other
 * key and value, must equal one process replaying the whole log.
 *
 * This is the slowest test of the suite (the filesystem takes a lock file and writes two files
 * per reducer run); `npm test` runs it on its own after the rest (`LO_TEST_SET=heavy`).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InMemoryKVS, PersistentRedisKVS, FilesystemKVS, type JsonValue, type KVStore } from '@learning-observer/kvs';
import { describeWithRedis, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { ReducerPipeline, isSequenced, readLogEvents } from '@learning-observer/reducers';
import { exampleModules, generateEvents } from '@learning-observer/examples';

const ROOT = path.resolve(__dirname, '../../../..');
const LO = path.join(ROOT, 'packages/cli/bin/lo.js');
if (!fs.existsSync(path.join(ROOT, 'packages/cli/dist/main.js'))) {
  throw new Error('packages/cli/dist is missing: run `npm run build` (or `npm test`, which builds first) before this test.');
}

const EVENTS = 100_000;
const STUDENTS = 200;
const SHARDS = 4;
const WO = 'writing_observer.writing_analysis';
const REDUCERS = [`${WO}.time_on_task`, `${WO}.event_count`];

interface ReplaySummary {
  events: number;
  reducerRuns: number;
  alreadyApplied: number;
  reducerErrors: { total: number };
  badSequence: { total: number };
}

interface ProcessRun {
  summary: ReplaySummary;
  startedAt: number;
  endedAt: number;
}

let work: string;
let log: string;
let shards: string[];
/** Events per shard, and the reducer runs a shard's replay attempts (2 per event). */
let shardEvents: number[];
/** The store of one process replaying the whole log (the reference). */
let expected: Record<string, JsonValue>;

/**
 * The shards of student number `i`: its own (i mod 4); every second student also the next one;
 * every tenth student all four.
 */
function shardsOf(i: number): number[] {
  if (i % 10 === 0) return [0, 1, 2, 3];
  return i % 2 === 0 ? [i % SHARDS, (i + 1) % SHARDS] : [i % SHARDS];
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lo-sharded-'));
  log = path.join(work, 'log.jsonl');
  shards = Array.from({ length: SHARDS }, (_, i) => path.join(work, `shard-${i}.jsonl`));
  shardEvents = new Array(SHARDS).fill(0);
  const all = fs.openSync(log, 'w');
  const parts = shards.map((f) => fs.openSync(f, 'w'));
  const studentNumber = new Map<string, number>();
  let seq = 0;
  let pending = '';
  const pendingParts: string[] = new Array(SHARDS).fill('');
  for (const event of generateEvents({ students: STUDENTS, totalEvents: EVENTS, seed: 2024 })) {
    const e = event as { server: Record<string, unknown>; metadata: { auth: { safe_user_id: string } } };
    e.server.seq = seq++;
    const id = e.metadata.auth.safe_user_id;
    if (!studentNumber.has(id)) studentNumber.set(id, studentNumber.size);
    const line = JSON.stringify(e) + '\n';
    pending += line;
    for (const s of shardsOf(studentNumber.get(id) as number)) {
      pendingParts[s] += line;
      shardEvents[s]++;
    }
    if (pending.length > 1 << 20) {
      fs.writeSync(all, pending);
      pending = '';
      pendingParts.forEach((text, s) => fs.writeSync(parts[s], text));
      pendingParts.fill('');
    }
  }
  fs.writeSync(all, pending);
  pendingParts.forEach((text, s) => fs.writeSync(parts[s], text));
  fs.closeSync(all);
  parts.forEach((fd) => fs.closeSync(fd));
  expect(seq).toBe(EVENTS);
  expect(studentNumber.size).toBe(STUDENTS);

  // The reference: one process, the whole log, in order.
  const store = new InMemoryKVS();
  const pipeline = new ReducerPipeline({ modules: exampleModules({}, ['writing_observer']), reducers: REDUCERS, store });
  const errors: unknown[] = [];
  pipeline.errors$.subscribe((e) => errors.push(e));
  async function* events() {
    for await (const record of readLogEvents([log])) yield record.event;
  }
  await new Promise<void>((resolve, reject) => pipeline.run(events()).subscribe({ error: reject, complete: resolve }));
  expect(errors).toEqual([]);
  expected = await store.dump();
}, 120_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Starts the four replays at once and waits for all of them. */
async function replayShards(config: string): Promise<ProcessRun[]> {
  return Promise.all(
    shards.map(
      (shard) =>
        new Promise<ProcessRun>((resolve, reject) => {
          const startedAt = Date.now();
          const child = spawn(
            process.execPath,
            [LO, 'replay', '--no-progress', '--json', '-c', config, '-m', 'writing_observer', '-r', REDUCERS.join(','), '--sequence-path', 'server.seq', shard],
            { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('close', (code) => {
            if (code !== 0) reject(new Error(`lo replay ${path.basename(shard)} exited ${code}: ${err}`));
            else resolve({ summary: JSON.parse(out) as ReplaySummary, startedAt, endedAt: Date.now() });
          });
        }),
    ),
  );
}

/** The store's keys and values with resume-format internal states unwrapped. */
async function unwrappedDump(store: KVStore): Promise<Record<string, JsonValue>> {
  const all = await store.dump();
  const out: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(all)) {
    if (k.startsWith('Internal,')) {
      if (!isSequenced(v)) throw new Error(`${k} is not in the resume format`);
      out[k] = v.state;
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Per student: events counted (summed over documents) and seconds on task (likewise). */
function perStudent(state: Record<string, JsonValue>): Map<string, { events: number; timeOnTask: number }> {
  const out = new Map<string, { events: number; timeOnTask: number }>();
  for (const [k, v] of Object.entries(state)) {
    if (!k.startsWith('External,')) continue;
    const student = /STUDENT:([^,]*)/.exec(k)?.[1] as string;
    const row = out.get(student) ?? { events: 0, timeOnTask: 0 };
    if (k.includes(`${WO}.event_count,`)) row.events += (v as { count: number }).count ?? 0;
    if (k.includes(`${WO}.time_on_task,`)) row.timeOnTask += (v as { total_time_on_task: number }).total_time_on_task;
    out.set(student, row);
  }
  return out;
}

/** The checks shared by both stores. */
function checkRuns(runs: ProcessRun[], state: Record<string, JsonValue>): void {
  // The four processes ran at the same time (each started before any of them ended).
  expect(Math.max(...runs.map((r) => r.startedAt))).toBeLessThan(Math.min(...runs.map((r) => r.endedAt)));
  for (const [i, r] of runs.entries()) {
    expect([r.summary.events, r.summary.reducerErrors.total, r.summary.badSequence.total]).toEqual([shardEvents[i], 0, 0]);
    expect(r.summary.reducerRuns + r.summary.alreadyApplied).toBe(2 * shardEvents[i]);
  }
  // Each (reducer, key, event) was applied exactly once over all processes; the rest were skipped.
  expect(runs.reduce((n, r) => n + r.summary.reducerRuns, 0)).toBe(2 * EVENTS);
  expect(runs.reduce((n, r) => n + r.summary.alreadyApplied, 0)).toBe(2 * (shardEvents.reduce((a, b) => a + b, 0) - EVENTS));
  // Per-student counts and time on task, then every key and value, equal the single replay.
  const want = perStudent(expected);
  expect(want.size).toBe(STUDENTS);
  expect([...want.values()].reduce((n, r) => n + r.events, 0)).toBe(EVENTS);
  expect(perStudent(state)).toEqual(want);
  expect(Object.keys(state).length).toBe(Object.keys(expected).length);
  expect(state).toEqual(expected);
}

describeWithRedis('four processes, overlapping shards, one Redis', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer({ appendonly: true });
  });
  afterAll(() => server?.stop());

  test('final state equals a single-process replay, exactly', async () => {
    const config = path.join(work, 'redis.yaml');
    fs.writeFileSync(config, `kvs:\n  default:\n    type: redis\n    prefix: "sharded:"\nredis_connection:\n  host: ${server.host}\n  port: ${server.port}\n`);
    const runs = await replayShards(config);
    const store = new PersistentRedisKVS({ prefix: 'sharded:', connection: server.connection, checkPersistence: false });
    try {
      checkRuns(runs, await unwrappedDump(store));
    } finally {
      await store.close();
    }
  }, 300_000);
});

describe('four processes, overlapping shards, one filesystem store', () => {
  test('final state equals a single-process replay, exactly', async () => {
    // tmpfs when there is one: the test is about locking between processes, not the disk's fsync rate.
    const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    const dir = fs.mkdtempSync(path.join(base, 'lo-sharded-store-'));
    try {
      const config = path.join(work, 'fs.yaml');
      fs.writeFileSync(config, `kvs:\n  default:\n    type: filesystem\n    path: ${JSON.stringify(dir)}\n`);
      const runs = await replayShards(config);
      checkRuns(runs, await unwrappedDump(new FilesystemKVS({ path: dir })));
      // No lock or temp file is left behind.
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
