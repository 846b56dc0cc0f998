/**
 * Issue 7, point 6, seen from the built `lo`: a replay into a filesystem store killed with
 * SIGKILL in the middle of its writes leaves every key file parseable, and the store reopens
 * cleanly (`lo kvs keys` / `dump` work, no temp or lock file stays, the next replay completes).
 * The store itself is tested harder in packages/kvs/test/filesystemProcesses.test.ts (kill -9 of a
 * tight write loop) and filesystemDiskErrors.test.ts (injected ENOSPC keeps the old value).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSampleLog } from '@learning-observer/examples';
import { EXIT } from '../../src';
import { lo, STACK_LINE, tempDir, writeFile } from '../helpers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'lo.js');
const DIST_MAIN = path.join(__dirname, '..', '..', 'dist', 'main.js');

let root: string;
let log: string;
let small: string;
beforeAll(async () => {
  if (!fs.existsSync(DIST_MAIN)) {
    throw new Error(`${DIST_MAIN} is missing: these tests run the built CLI in a child process. Run \`npm run build\` first (npm test does).`);
  }
  root = tempDir('lo-killed-');
  log = path.join(root, 'log.jsonl.gz');
  await writeSampleLog(log, { students: 12, docsPerStudent: 2, eventsPerStudent: 400, seed: 9 });
  small = path.join(root, 'small.jsonl');
  await writeSampleLog(small, { students: 2, docsPerStudent: 2, eventsPerStudent: 15, seed: 9 });
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Every file under `dir`, relative. */
function walk(dir: string, rel = ''): string[] {
  if (!fs.existsSync(path.join(dir, rel))) return [];
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = path.join(rel, e.name);
    return e.isDirectory() ? walk(dir, r) : [r];
  });
}

/** Key files (not temp or lock files, which start with `.`). */
const keyFilesOf = (store: string) => walk(store).filter((f) => !path.basename(f).startsWith('.'));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['flat', false, []],
  ['subdirs', true, []],
  ['flat, batched', false, ['--batch-size', '50']],
] as const)('lo replay killed with SIGKILL (%s)', (name, subdirs, extra) => {
  test('three kills at different moments: every file parses, the store reopens, a full replay then completes', async () => {
    const dir = path.join(root, name.replace(/\W+/g, '-'));
    fs.mkdirSync(dir);
    const store = path.join(dir, 'store');
    writeFile(dir, 'creds.yaml', `kvs:\n  default:\n    type: filesystem\n    path: ${store}\n    subdirs: ${subdirs}\n`);
    for (const [round, delayMs] of [20, 300, 900].entries()) {
      const child = spawn(process.execPath, [BIN, 'replay', log, '--no-progress', ...extra], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c) => (err += c));
      const exited = new Promise<string | number | null>((resolve) => child.on('close', (code, signal) => resolve(signal ?? code)));
      let finished: string | number | null | undefined;
      void exited.then((v) => (finished = v));
      // Wait until the replay has written its first keys, then let it run for a while (longer each round).
      while (finished === undefined && keyFilesOf(store).length < 5) await sleep(5);
      await sleep(delayMs);
      expect([round, finished, err]).toEqual([round, undefined, '']); // still running: the kill lands mid-replay
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      const keyFiles = keyFilesOf(store);
      expect(keyFiles.length).toBeGreaterThanOrEqual(5);
      for (const f of keyFiles) {
        const text = fs.readFileSync(path.join(store, f), 'utf8');
        expect([f, (() => { try { JSON.parse(text); return 'ok'; } catch (e) { return String(e); } })()]).toEqual([f, 'ok']);
      }
      const keys = await lo(['kvs', 'keys', '--json'], { cwd: dir });
      expect(keys.code).toBe(EXIT.OK);
      expect(JSON.parse(keys.out)).toHaveLength(keyFiles.length);
      const dump = await lo(['kvs', 'dump'], { cwd: dir });
      expect(dump.code).toBe(EXIT.OK);
      expect(Object.keys(JSON.parse(dump.out))).toHaveLength(keyFiles.length);
    }
    // The next replay runs to the end (it takes over any lock the killed one held); a short log
    // over the same students and documents keeps the test fast.
    const full = await lo(['replay', small, '--no-progress', '--json', ...extra], { cwd: dir });
    expect(full.err).not.toMatch(STACK_LINE);
    expect(full.code).toBe(EXIT.OK);
    expect(JSON.parse(full.out).events).toBe(2 * 15);
    expect(walk(store).filter((f) => path.basename(f).startsWith('.'))).toEqual([]);
  }, 120000);
});
