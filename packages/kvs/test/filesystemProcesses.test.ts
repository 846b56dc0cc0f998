import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemKVS } from '../src/backends/FilesystemKVS';

const DIST = join(__dirname, '..', 'dist', 'backends', 'FilesystemKVS.js');
const INCREMENT = join(__dirname, 'fixtures', 'fs-increment.js');
const WRITE_LOOP = join(__dirname, 'fixtures', 'fs-write-loop.js');
const PROCESSES = 4;
const UPDATES = 500;

let root: string;
beforeAll(() => {
  if (!existsSync(DIST)) {
    throw new Error(`${DIST} is missing: this test runs the built FilesystemKVS in child processes. Run \`npm run build\` first (npm test does).`);
  }
  root = mkdtempSync(join(tmpdir(), 'kvs-fs-processes-'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (c) => (out += c));
  child.stderr?.on('data', (c) => (err += c));
  return { out: () => out, err: () => err };
}

function runIncrementer(dir: string, subdirs: boolean, key: string, go: Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [INCREMENT, dir, String(subdirs), key, String(UPDATES)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const output = collect(child);
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`incrementer exited with ${code}: ${output.err()}`))));
    void go.then(() => child.stdin?.end('go\n'));
  });
}

/** Every file under `dir` (relative paths). */
function listFiles(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel)).flatMap((name) => {
    const path = join(rel, name);
    return statSync(join(dir, path)).isDirectory() ? listFiles(dir, path) : [path];
  });
}

describe.each([false, true])('FilesystemKVS across processes (subdirs: %s)', (subdirs) => {
  it(`never loses an update: ${PROCESSES} processes x ${UPDATES} increments of one key`, async () => {
    const dir = join(root, `increments-${subdirs}`);
    const key = 'External,counter,STUDENT:[guest]/shared';
    let go!: () => void;
    const started = new Promise<void>((resolve) => (go = resolve));
    const children = Array.from({ length: PROCESSES }, () => runIncrementer(dir, subdirs, key, started));
    go();
    await Promise.all(children);
    const store = new FilesystemKVS({ path: dir, subdirs });
    expect(await store.get(key)).toBe(PROCESSES * UPDATES);
    expect(await store.keys()).toEqual([key]);
    expect(listFiles(dir).filter((f) => f.split('/').pop()!.startsWith('.'))).toEqual([]);
  }, 120000);

  it('leaves only parseable files when a writer is killed with SIGKILL mid-loop, and reopens cleanly', async () => {
    const dir = join(root, `killed-${subdirs}`);
    const expectedKeys = ['plain', 'foo/barła', '[guest]/doc,1', '😀', 'k'.repeat(300), 'counter'];
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, [WRITE_LOOP, dir, String(subdirs)], { stdio: ['ignore', 'pipe', 'pipe'] });
      const output = collect(child);
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', () => {
          if (output.out().includes('ready')) resolve();
        });
        child.on('exit', () => reject(new Error(`writer exited before it was killed: ${output.err()}`)));
      });
      // Let it run a little (with different delays each round), then kill it without warning.
      await new Promise((resolve) => setTimeout(resolve, 20 + round * 35));
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');

      // Every key file on disk is complete JSON, whatever the moment of the kill.
      const files = listFiles(dir);
      const keyFiles = files.filter((f) => !f.split('/').pop()!.startsWith('.'));
      expect(keyFiles.length).toBe(expectedKeys.length);
      for (const f of keyFiles) expect(() => JSON.parse(readFileSync(join(dir, f), 'utf8'))).not.toThrow();

      // The store reopens: keys() lists exactly the keys, no temp or lock file, and the dead
      // writer's leftovers are gone; its lock (if it held one) does not block the next update.
      const store = new FilesystemKVS({ path: dir, subdirs, lockTimeoutMs: 5000 });
      expect((await store.keys()).sort()).toEqual([...expectedKeys].sort());
      expect(listFiles(dir).filter((f) => f.split('/').pop()!.startsWith('.'))).toEqual([]);
      const before = (await store.get('counter')) as number;
      expect(await store.update('counter', (v) => (v as number) + 1)).toBe(before + 1);
      const value = (await store.get('plain')) as { key: string; i: number };
      expect(value.key).toBe('plain');
      await store.close();
    }
  }, 60000);
});
