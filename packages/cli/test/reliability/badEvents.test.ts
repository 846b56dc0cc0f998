/**
 * Issue 7, point 8: bad events through `lo replay`. Every kind of bad line is skipped and counted
 * with its line number while the replay goes on (the final state equals a replay of the good lines
 * alone); a reducer that throws on a poisoned event is reported with key and line while other
 * keys continue; a reducer returning something that is not JSON gets a clear error for that key
 * and neither its internal nor its external state is written, on memory, filesystem and Redis.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KVSRouter } from '@learning-observer/kvs';
import { describeWithRedis, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { defineReducer, type LOEvent, type ReducerOutput } from '@learning-observer/reducers';
import { generateEvents } from '@learning-observer/examples';
import { captureIO, EXIT, replayLogs } from '../../src';
import { lo, STACK_LINE, tempDir, writeFile } from '../helpers';

const REDUCER = 'writing_observer.writing_analysis';
const TEN_MB = 10 * 1024 * 1024;

let root: string;
beforeAll(() => {
  root = tempDir('lo-badevents-');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function project(name: string): string {
  const p = path.join(root, name);
  fs.mkdirSync(p);
  writeFile(p, 'creds.yaml', `kvs:\n  default:\n    type: filesystem\n    path: ${path.join(p, 'store')}\n`);
  return p;
}

const line = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s + '\n') : Buffer.concat([s, Buffer.from('\n')]));

/** A save whose `bundles` is not a list: the reconstruct reducer throws on it. */
const POISON = JSON.stringify({
  client: { source: 'org.mitros.writing_analytics', event: 'google_docs_save', doc_id: 'D-poison', bundles: 'not a list' },
  metadata: { auth: { safe_user_id: 'gc-student-01' } },
  server: { time: 1700000999 },
});

/**
 * Good events with bad lines spliced in at fixed places. Returns the log, the same log with only
 * the lines a replay must keep, and where each bad line went.
 */
function logs(bad: Buffer[], at: number[]): { log: Buffer; good: Buffer; positions: number[] } {
  const good = [...generateEvents({ students: 3, docsPerStudent: 2, eventsPerStudent: 60, seed: 11 })].map((e) => JSON.stringify(e));
  good.splice(70, 0, POISON); // a poisoned save in the middle: later events of the same student still count
  const out: Buffer[] = [];
  const positions: number[] = [];
  let b = 0;
  good.forEach((g, i) => {
    while (b < bad.length && at[b] === i) {
      out.push(line(bad[b++]));
      positions.push(out.length);
    }
    out.push(line(g));
  });
  return { log: Buffer.concat(out), good: Buffer.concat(good.map((g) => line(g))), positions };
}

/**
 * Replays `log` in project `p` and `good` (the same log without the bad lines) in a second project;
 * returns the first summary and both stores' dumps.
 */
async function replayBoth(p: string, log: Buffer, good: Buffer) {
  const logFile = writeFile(p, 'bad.jsonl', log);
  const r = await lo(['replay', logFile, '-m', 'writing_observer', '--json', '--no-progress'], { cwd: p });
  expect(r.err).not.toMatch(STACK_LINE);
  const summary = JSON.parse(r.out);
  const dump = JSON.parse((await lo(['kvs', 'dump'], { cwd: p })).out);

  const q = project(`${path.basename(p)}-clean`);
  const goodFile = writeFile(q, 'good.jsonl', good);
  // The reference replay runs in batched mode (faster; the same final state is part of its contract).
  const clean = await lo(['replay', goodFile, '-m', 'writing_observer', '--batch-size', '64', '--json', '--no-progress'], { cwd: q });
  expect([JSON.parse(clean.out).skipped.total, JSON.parse(clean.out).reducerErrors.total]).toEqual([0, 1]);
  const cleanDump = JSON.parse((await lo(['kvs', 'dump'], { cwd: q })).out);
  return { code: r.code, summary, logFile, dump, cleanDump };
}

test('bad lines of every kind are skipped and counted with their line numbers; the poisoned event fails one key; the rest equals a replay of the good lines', async () => {
  const p = project('kinds-a');
  const bad = [
    Buffer.from('this is not json {'),
    Buffer.from('{"server":{"time":1700000000},"metadata":{"auth":{"safe_user_id":"gc-student-01"}}}'),
    Buffer.from('{"client":{"event":"keystroke","source":"org.mitros.writing_analytics"},"server":{"time":"yesterday"}}'),
    Buffer.alloc(TEN_MB, 'x'),
    Buffer.concat([Buffer.from('{"client":{"event":"keystroke","doc_id":"D'), Buffer.from([0]), Buffer.from('"}}')]),
  ];
  const { log, good, positions } = logs(bad, [0, 10, 50, 90, 150]);
  expect(positions).toEqual([1, 12, 53, 94, 155]);
  const { code, summary, logFile, dump, cleanDump } = await replayBoth(p, log, good);

  expect(code).toBe(EXIT.FAILURES); // the reducer error; skipped lines alone would exit 0
  expect(summary.lines).toBe(181 + 5);
  expect(summary.events).toBe(181);
  expect(summary.skipped).toEqual({
    total: 5,
    byReason: { 'not-json': 2, 'missing-client': 1, 'wrong-type': 1, 'nul-byte': 1 },
    first: [
      { file: logFile, line: 1, reason: 'not-json', message: expect.stringMatching(/^not JSON/) },
      { file: logFile, line: 12, reason: 'missing-client', message: 'the event has no "client" field' },
      { file: logFile, line: 53, reason: 'wrong-type', message: 'server.time is a string, expected a number of seconds' },
      { file: logFile, line: 94, reason: 'not-json', message: expect.stringMatching(/^not JSON/) },
      { file: logFile, line: 155, reason: 'nul-byte', message: expect.stringContaining('NUL byte') },
    ],
  });
  // The poisoned save is line 70 of the good events plus the bad lines before it (1, 12, 53).
  expect(summary.reducerErrors).toEqual({
    total: 1,
    byReducer: { [`${REDUCER}.reconstruct`]: 1 },
    first: [
      {
        reducer: `${REDUCER}.reconstruct`,
        key: `Internal,${REDUCER}.reconstruct,EventField.doc_id:D-poison,STUDENT:gc-student-01`,
        file: logFile,
        line: 74,
        message: expect.stringContaining('bundles'),
      },
    ],
  });

  // Same states as a replay of the good lines alone (which also fails only on the poisoned save).
  expect(Object.keys(dump).length).toBeGreaterThan(20);
  expect(dump).toEqual(cleanDump);
  expect(Object.keys(dump).filter((k) => k.includes('reconstruct,EventField.doc_id:D-poison'))).toEqual([]);
  expect(dump[`External,${REDUCER}.event_count,EventField.doc_id:D-poison,STUDENT:gc-student-01`]).toEqual({ count: 1 });
}, 60000);

test('invalid UTF-8 of several shapes and a 10 MB line with a wrong type are skipped with their line numbers', async () => {
  const p = project('kinds-b');
  const ev = (bytes: number[]) =>
    Buffer.concat([Buffer.from('{"client":{"event":"keystroke","source":"org.mitros.writing_analytics","doc_id":"'), Buffer.from(bytes), Buffer.from('"}}')]);
  const bad = [
    ev([0xff]), // never valid
    ev([0xc3]), // truncated two-byte sequence
    ev([0xc0, 0xaf]), // overlong '/'
    ev([0xed, 0xa0, 0x80]), // an encoded UTF-16 surrogate
    Buffer.from(JSON.stringify({ client: 'k'.repeat(TEN_MB) })), // 10 MB, valid JSON, client is not an object
  ];
  const { log, good, positions } = logs(bad, [5, 6, 100, 101, 180]);
  expect(positions).toEqual([6, 8, 103, 105, 185]);
  const { code, summary, logFile, dump, cleanDump } = await replayBoth(p, log, good);
  expect(code).toBe(EXIT.FAILURES);
  expect([summary.events, summary.lines]).toEqual([181, 186]);
  expect(summary.skipped.byReason).toEqual({ 'invalid-utf8': 4, 'wrong-type': 1 });
  expect(summary.skipped.first.map((s: { line: number; reason: string }) => [s.line, s.reason])).toEqual([
    [6, 'invalid-utf8'],
    [8, 'invalid-utf8'],
    [103, 'invalid-utf8'],
    [105, 'invalid-utf8'],
    [185, 'wrong-type'],
  ]);
  expect(summary.skipped.first[4].message).toBe('client is a string, expected an object');
  expect(summary.reducerErrors.total).toBe(1);
  expect(summary.reducerErrors.first[0].line).toBe(70 + 1 + 2); // after the two bad lines at 6 and 8
  expect(Object.keys(dump).length).toBeGreaterThan(20);
  expect(dump).toEqual(cleanDump);
}, 60000);

// A reducer returning non-JSON values, through the same replay function `lo replay` runs.
const SRC = 'org.test.nonjson';
const cyclic: Record<string, unknown> = {};
cyclic.self = cyclic;
const POISONS: Record<string, () => ReducerOutput> = {
  'undefined-inside': () => [{ n: 1, a: undefined } as never, { n: 1 }],
  nan: () => [{ n: 1 }, { n: NaN }],
  bigint: () => [{ n: 1 }, { n: 1n } as never],
  cycle: () => [{ n: 1 }, cyclic as never],
  'cycle-internal': () => [cyclic as never, { n: 1 }],
};
const poisonReducer = defineReducer({ module: 'test.nonjson', qualname: 'count', context: SRC, nullState: { n: 0 } }, (event: LOEvent, state: { n: number }) => {
  const poison = event.client.poison as string | undefined;
  if (poison !== undefined) return POISONS[poison]();
  return [{ n: state.n + 1 }, { n: state.n + 1 }];
});

function nonJsonLog(): { text: string; poisoned: Map<string, number> } {
  const lines: string[] = [];
  const poisoned = new Map<string, number>();
  const students = Object.keys(POISONS).map((p) => `s-${p}`).concat(['s-ok-1', 's-ok-2']);
  for (let round = 0; round < 4; round++) {
    for (const s of students) {
      const poison = round === 2 && !s.startsWith('s-ok') ? s.slice(2) : undefined;
      lines.push(JSON.stringify({ client: { source: SRC, event: 'x', ...(poison ? { poison } : {}) }, metadata: { auth: { safe_user_id: s } } }));
      if (poison) poisoned.set(s, lines.length);
    }
  }
  return { text: lines.join('\n') + '\n', poisoned };
}

async function checkNonJson(settings: unknown, dir: string, batchSize?: number): Promise<void> {
  const { text, poisoned } = nonJsonLog();
  const file = writeFile(dir, 'nonjson.jsonl', text);
  const router = new KVSRouter(settings);
  try {
    await router.get().clear();
    const summary = await replayLogs(captureIO({ cwd: dir }), {
      files: [file],
      router,
      modules: [poisonReducer],
      moduleNames: ['test.nonjson'],
      samples: 10,
      progress: 'none',
      batchSize,
    });
    expect(summary.reducerErrors.total).toBe(poisoned.size);
    const byKey = new Map(summary.reducerErrors.first.map((e) => [e.key, e]));
    const expectedMessages: Record<string, string> = {
      'undefined-inside': 'returned an internal state that is not JSON: the value at $.a is undefined',
      nan: 'returned an external state that is not JSON: the value at $.n is NaN',
      bigint: 'returned an external state that is not JSON: the value at $.n is a BigInt',
      cycle: 'returned an external state that is not JSON: the value at $.self is a circular reference',
      'cycle-internal': 'returned an internal state that is not JSON: the value at $.self is a circular reference',
    };
    for (const [student, lineNo] of poisoned) {
      const e = byKey.get(`Internal,test.nonjson.count,STUDENT:${student}`);
      expect([student, e?.line, e?.file]).toEqual([student, lineNo, file]);
      expect(e!.message).toContain(expectedMessages[student.slice(2)]);
    }
    // Nothing half-written: the poisoned event changed neither state (3 good events counted), and
    // the other students counted all 4.
    const store = router.get();
    for (const s of [...poisoned.keys(), 's-ok-1', 's-ok-2']) {
      const n = poisoned.has(s) ? 3 : 4;
      expect([s, await store.get(`Internal,test.nonjson.count,STUDENT:${s}`), await store.get(`External,test.nonjson.count,STUDENT:${s}`)]).toEqual([s, { n }, { n }]);
    }
    expect((await store.keys()).length).toBe(2 * (poisoned.size + 2));
  } finally {
    await router.close();
  }
}

describe('a reducer returning non-JSON: a clear error for that key and line, nothing half-written', () => {
  test('memory (stub)', async () => {
    await checkNonJson({ kvs: { default: { type: 'stub' } } }, root);
  });
  test('memory (stub), batched', async () => {
    await checkNonJson({ kvs: { default: { type: 'stub' } } }, root, 5);
  });
  test.each([
    [false, undefined],
    [true, undefined],
    [false, 5],
  ])('filesystem (subdirs: %s, batchSize: %s)', async (subdirs, batchSize) => {
    const dir = path.join(root, `nonjson-fs-${subdirs}-${batchSize}`);
    fs.mkdirSync(dir);
    await checkNonJson({ kvs: { default: { type: 'filesystem', path: path.join(dir, 'store'), subdirs } } }, dir, batchSize);
  });
  describeWithRedis('redis', () => {
    let server: RedisServerHandle;
    beforeAll(async () => {
      server = await startRedisServer({ appendonly: true });
    });
    afterAll(() => server?.stop());
    test.each([undefined, 5])('persistent redis (batchSize: %s)', async (batchSize) => {
      await checkNonJson({ redis_connection: server.connection, kvs: { default: { type: 'redis', prefix: 'nonjson:' } } }, root, batchSize);
    });
  });
});
