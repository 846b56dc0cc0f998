import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tempDir, writeFile } from './helpers';

/**
 * `lo replay` streams: a log whose JSON is far bigger than the JS heap replays fine in a child
 * process with a small heap cap, while reading the same file whole under the same cap runs out of
 * memory (the control, which shows the cap is tight enough to catch a replay that buffers the log).
 */
const BIN = path.join(__dirname, '..', 'bin', 'lo.js');
const DIST_MAIN = path.join(__dirname, '..', 'dist', 'main.js');
const HEAP_MB = 24;
const EVENTS = 60_000;
const STUDENTS = 10;

function runNode(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, ...args], { cwd, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

let dir: string;
beforeAll(() => {
  if (!fs.existsSync(DIST_MAIN)) {
    throw new Error(`${DIST_MAIN} is missing: this test runs the built CLI in a child process. Run \`npm run build\` first (npm test does).`);
  }
  dir = tempDir('lo-flat-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test(`a log of ~${Math.round((EVENTS * 700) / 1e6)} MB of JSON replays under a ${HEAP_MB} MB heap cap; loading it whole does not`, async () => {
  const pad = 'x'.repeat(600);
  const lines: string[] = [];
  for (let i = 0; i < EVENTS; i++) {
    lines.push(JSON.stringify({ client: { source: 'org.ets.sba', event: 'click', i, pad }, metadata: { auth: { safe_user_id: `s${i % STUDENTS}` } }, server: { time: 1700000000 + i } }));
  }
  const text = lines.join('\n') + '\n';
  expect(text.length).toBeGreaterThan(40e6);
  const log = writeFile(dir, 'big.jsonl.gz', zlib.gzipSync(text, { level: 1 }));
  lines.length = 0;
  writeFile(dir, 'creds.yaml', 'kvs:\n  default:\n    type: stub\n');

  const replay = await runNode([BIN, 'replay', log, '-m', 'toy_counter', '--json', '--no-progress'], dir);
  expect([replay.code, replay.err]).toEqual([0, '']);
  const summary = JSON.parse(replay.out);
  expect([summary.events, summary.skipped.total, summary.reducerErrors.total, summary.reducerRuns, summary.keysWritten]).toEqual([EVENTS, 0, 0, EVENTS, 2 * STUDENTS]);

  const whole = await runNode(
    ['-e', `const z=require('zlib'),fs=require('fs');const a=z.gunzipSync(fs.readFileSync(${JSON.stringify(log)})).toString().split('\\n').filter(Boolean).map((l)=>JSON.parse(l));console.log(a.length)`],
    dir,
  );
  expect(whole.code).not.toBe(0);
  expect(whole.err).toMatch(/heap out of memory|Allocation failed/);
}, 60_000);
