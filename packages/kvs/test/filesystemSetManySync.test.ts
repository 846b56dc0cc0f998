/**
 * The filesystem store's batched write path: `setMany` stages every temp file (fsynced), renames
 * them all, and fsyncs each folder that received a file once per call, before it resolves; and the
 * sliding-window `mapLimit` its file operations run through.
 */
// The real fs.promises object (a namespace import would be a read-only copy), so spies reach the store.
import { mkdtempSync, promises as fsp, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FilesystemKVS } from '../src/backends/FilesystemKVS';
import { StoreWriteError } from '../src/errors';
import { mapLimit } from '../src/fs/mapLimit';

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kvs-fs-setmany-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

/**
 * Records, in order, every temp-file fsync, rename and folder fsync the store does (`folders`:
 * the paths whose fsync is a folder's). A rename onto a path for which `failRename` is true fails
 * with EACCES.
 */
function recordFileOps(folders: Set<string>, failRename: (to: string) => boolean = () => false): string[] {
  const log: string[] = [];
  const realOpen = fsp.open;
  jest.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    const path = resolve(String(args[0]));
    const realSync = handle.sync.bind(handle);
    handle.sync = async () => {
      await realSync();
      log.push(folders.has(path) ? `dirsync ${path}` : 'filesync');
    };
    return handle;
  });
  const realRename = fsp.rename;
  jest.spyOn(fsp, 'rename').mockImplementation(async (...args: Parameters<typeof fsp.rename>) => {
    if (failRename(String(args[1]))) throw Object.assign(new Error('EACCES: permission denied, rename'), { code: 'EACCES', syscall: 'rename' });
    await realRename(...args);
    log.push('rename');
  });
  return log;
}

describe('FilesystemKVS.setMany', () => {
  test('fsyncs every temp file, then renames all, then fsyncs the folder once, before resolving', async () => {
    const dir = join(root, `case-${++n}`);
    const store = new FilesystemKVS({ path: dir });
    await store.set('warm', 0); // the folder exists, init() done
    const log = recordFileOps(new Set([resolve(dir)]));
    const entries: [string, number][] = Array.from({ length: 150 }, (_, i) => [`k${i}`, i]);
    await store.setMany(entries);
    log.push('resolved');

    expect(log.filter((e) => e === 'filesync')).toHaveLength(150);
    expect(log.filter((e) => e === 'rename')).toHaveLength(150);
    // Not one folder fsync per file (nor per group of files): one for the whole call, after the last rename.
    expect(log.slice(-2)).toEqual([`dirsync ${resolve(dir)}`, 'resolved']);
    expect(log.filter((e) => e.startsWith('dirsync'))).toHaveLength(1);
    expect(log.lastIndexOf('filesync')).toBeLessThan(log.indexOf('rename'));
    jest.restoreAllMocks();
    expect(await store.multiget(entries.map(([k]) => k))).toEqual(entries.map(([, v]) => v));
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
    await store.close();
  });

  test('subdirs: each folder that received a file is fsynced once, after its renames', async () => {
    const dir = join(root, `case-${++n}`);
    const store = new FilesystemKVS({ path: dir, subdirs: true });
    const folders = ['a', 'b', 'c'].map((f) => resolve(dir, `_${f}`));
    await store.setMany(['a', 'b', 'c'].map((f) => [`${f}/first`, 0])); // creates the folders
    const log = recordFileOps(new Set([resolve(dir), ...folders]));
    await store.setMany(Array.from({ length: 90 }, (_, i) => [`${'abc'[i % 3]}/k${i}`, i]));
    log.push('resolved');

    const dirSyncs = log.filter((e) => e.startsWith('dirsync'));
    expect(dirSyncs.sort()).toEqual(folders.map((f) => `dirsync ${f}`).sort());
    expect(log.lastIndexOf('rename')).toBeLessThan(log.indexOf(dirSyncs[0]));
    expect(log[log.length - 1]).toBe('resolved');
    jest.restoreAllMocks();
    expect(await store.get('b/k1')).toBe(1);
    await store.close();
  });

  test('a rename that fails rejects the call with StoreWriteError; the other keys are renamed and their folder synced', async () => {
    const dir = join(root, `case-${++n}`);
    const store = new FilesystemKVS({ path: dir });
    await store.setMany([
      ['good1', 0],
      ['bad', 0],
      ['good2', 0],
    ]);
    const log = recordFileOps(new Set([resolve(dir)]), (to) => to.endsWith('bad'));
    const err = await store
      .setMany([
        ['good1', 1],
        ['bad', 1],
        ['good2', 1],
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreWriteError);
    expect((err as Error).message).toMatch(/EACCES/);
    expect(log.filter((e) => e === 'rename')).toHaveLength(2);
    expect(log[log.length - 1]).toBe(`dirsync ${resolve(dir)}`);
    jest.restoreAllMocks();
    expect(await store.multiget(['good1', 'bad', 'good2'])).toEqual([1, 0, 1]);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
    await store.close();
  });

  test('without fsync, no file or folder is synced', async () => {
    const dir = join(root, `case-${++n}`);
    const store = new FilesystemKVS({ path: dir, fsync: false });
    await store.set('warm', 0);
    const log = recordFileOps(new Set([resolve(dir)]));
    await store.setMany(Array.from({ length: 10 }, (_, i) => [`k${i}`, i]));
    expect(log.filter((e) => e !== 'rename')).toEqual([]);
    jest.restoreAllMocks();
    expect(await store.get('k9')).toBe(9);
    await store.close();
  });
});

describe('mapLimit', () => {
  /** A promise with its resolve/reject, settled from the test. */
  function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  }
  const tick = () => new Promise((r) => setImmediate(r));

  test('keeps the order of the items and never has more than `limit` calls pending', async () => {
    let pending = 0;
    let most = 0;
    const out = await mapLimit(
      Array.from({ length: 50 }, (_, i) => i),
      async (i) => {
        most = Math.max(most, ++pending);
        await new Promise((r) => setTimeout(r, (i * 7) % 5));
        pending--;
        return i * 2;
      },
      4,
    );
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(most).toBe(4);
    expect(await mapLimit([], async () => 1, 4)).toEqual([]);
  });

  test('starts the next call as soon as any one ends: a slow item does not hold the others back', async () => {
    const slow = deferred<string>();
    const started: number[] = [];
    const run = mapLimit(
      Array.from({ length: 10 }, (_, i) => i),
      async (i) => {
        started.push(i);
        return i === 0 ? slow.promise : `v${i}`;
      },
      3,
    );
    await tick();
    // Item 0 is still pending; with fixed chunks of 3, items 3..9 would wait for it.
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    slow.resolve('v0');
    expect(await run).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
  });

  test('after a rejection no new call starts, and it rejects only once the running calls have settled', async () => {
    const running = deferred<void>();
    const started: number[] = [];
    let settled = false;
    const run = mapLimit(
      [0, 1, 2, 3, 4],
      async (i) => {
        started.push(i);
        if (i === 0) {
          await running.promise;
          settled = true;
        }
        if (i === 1) throw new Error('boom');
      },
      2,
    ).then(
      () => 'resolved',
      (e: Error) => (settled ? e.message : 'rejected while a call was still running'),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    running.resolve();
    expect(await run).toBe('boom');
    expect(started).toEqual([0, 1]);
  });
});
