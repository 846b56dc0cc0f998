/**
 * Issue 7, point 6 (full disk), through the reducer pipeline: ENOSPC injected at each step of a
 * filesystem write (writing the temp file, fsync, creating a folder) is a ReducerError whose
 * cause is the typed StoreWriteError; the key keeps its old value, no temp file stays, and once
 * space is back the next events are applied. packages/kvs/test/filesystemDiskErrors.test.ts tests
 * the store's own set/update/transaction on a full disk.
 */
// The real fs.promises object (a namespace import would be a read-only copy), so spies reach the store.
import { mkdtempSync, promises as fsp, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { FilesystemKVS, StoreWriteError } from '@learning-observer/kvs';
import { EventField, KeyField, ReducerPipeline, Scope, defineReducer, type LOEvent, type ReducerError } from '@learning-observer/reducers';

const SRC = 'org.test.disk';
let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lo-disk-full-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

function enospc(syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), { code: 'ENOSPC', errno: -28, syscall });
}

type Step = 'write' | 'sync' | 'mkdir';
/** Makes the given step of every file write fail with ENOSPC until the returned spy is restored. */
function fillDisk(step: Step): jest.SpyInstance {
  if (step === 'mkdir') {
    return jest.spyOn(fsp, 'mkdir').mockImplementation(async () => {
      throw enospc('mkdir');
    });
  }
  const realOpen = fsp.open;
  return jest.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    if (String(args[0]).endsWith('.tmp')) {
      if (step === 'write') handle.writeFile = async () => { throw enospc('write'); };
      else handle.sync = async () => { throw enospc('fsync'); };
    }
    return handle;
  });
}

const counter = defineReducer(
  { module: 'test.disk', qualname: 'count', context: SRC, scope: new Scope([KeyField.STUDENT, new EventField('doc_id')]), nullState: { n: 0 } },
  (_e: LOEvent, s: { n: number }) => [{ n: s.n + 1 }, { n: s.n + 1 }],
);
const ev = (student: string, doc: string): LOEvent => ({ client: { source: SRC, event: 'x', doc_id: doc }, metadata: { auth: { safe_user_id: student } } });

function allFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? allFiles(join(dir, f)) : [f]));
}

describe.each([
  [false, 'write', undefined],
  [false, 'sync', undefined],
  [true, 'write', undefined],
  [true, 'mkdir', undefined],
  [false, 'write', 4],
  [true, 'sync', 4],
] as [boolean, Step, number | undefined][])('subdirs %s, ENOSPC at %s, batchSize %s', (subdirs, step, batchSize) => {
  test('typed error, old value intact, no temp file, and the replay goes on once space is back', async () => {
    const dir = join(root, `case-${++n}`);
    const store = new FilesystemKVS({ path: dir, subdirs });
    const pipeline = new ReducerPipeline({ modules: [counter], store, batchSize });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    const run = (events: LOEvent[]) => lastValueFrom(pipeline.run(events).pipe(toArray()), { defaultValue: [] });

    await run([ev('s/1', 'd'), ev('s/1', 'd'), ev('s2', 'd')]);
    const key = (t: string, s: string, d: string) => `${t},test.disk.count,EventField.doc_id:${d},STUDENT:${s}`;
    expect(await store.get(key('Internal', 's/1', 'd'))).toEqual({ n: 2 });

    const spy = fillDisk(step);
    // An existing key, and (for mkdir) a student whose folder does not exist yet.
    await run([ev('s/1', 'd'), ev(step === 'mkdir' ? 'new/student' : 's2', 'd')]);
    expect(spy).toHaveBeenCalled();
    expect(errors.length).toBeGreaterThanOrEqual(1);
    for (const e of errors) {
      expect(e.cause).toBeInstanceOf(StoreWriteError);
      expect((e.cause as Error).message).toMatch(/ENOSPC/);
      expect((e.cause as Error).message).toMatch(/previous value is unchanged/);
    }
    spy.mockRestore();

    // Old values intact (internal and external), nothing written for the new student. With only
    // mkdir failing, keys whose folder exists are still written.
    const old = step === 'mkdir' ? 3 : 2;
    expect(errors).toHaveLength(step === 'mkdir' ? 1 : 2);
    expect(await store.get(key('Internal', 's/1', 'd'))).toEqual({ n: old });
    expect(await store.get(key('External', 's/1', 'd'))).toEqual({ n: old });
    expect(await store.get(key('Internal', 's2', 'd'))).toEqual({ n: 1 });
    expect(await store.get(key('Internal', 'new/student', 'd'))).toBeUndefined();
    expect(allFiles(dir).filter((f) => f.startsWith('.'))).toEqual([]);

    // Space is back: the next events apply on top of the old values.
    const before = errors.length;
    await run([ev('s/1', 'd'), ev('new/student', 'd')]);
    expect(errors.length).toBe(before);
    expect(await store.get(key('External', 's/1', 'd'))).toEqual({ n: old + 1 });
    expect(await store.get(key('External', 'new/student', 'd'))).toEqual({ n: 1 });
    expect(allFiles(dir).filter((f) => f.startsWith('.'))).toEqual([]);
    await store.close();
  });
});

/** ENOSPC only for the temp files of keys whose file name contains `marker` (the disk fills between two writes). */
function fillDiskFor(marker: string): jest.SpyInstance {
  const realOpen = fsp.open;
  return jest.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    if (String(args[0]).endsWith('.tmp') && String(args[0]).includes(marker)) handle.writeFile = async () => { throw enospc('write'); };
    return handle;
  });
}

describe.each([
  ['Internal', false, undefined],
  ['External', false, undefined],
  ['Internal', true, undefined],
  ['External', true, undefined],
  ['Internal', false, 4],
  ['External', false, 4],
] as [string, boolean, number | undefined][])('the disk is full for the %s state only (subdirs %s, batchSize %s)', (marker, subdirs, batchSize) => {
  test('neither state is written: no half-applied event', async () => {
    const dir = join(root, `half-${++n}`);
    const store = new FilesystemKVS({ path: dir, subdirs });
    const pipeline = new ReducerPipeline({ modules: [counter], store, batchSize });
    const errors: ReducerError[] = [];
    pipeline.errors$.subscribe((e) => errors.push(e));
    const run = (events: LOEvent[]) => lastValueFrom(pipeline.run(events).pipe(toArray()), { defaultValue: [] });
    const key = (t: string) => `${t},test.disk.count,EventField.doc_id:d,STUDENT:s`;

    await run([ev('s', 'd'), ev('s', 'd')]);
    const spy = fillDiskFor(marker);
    await run([ev('s', 'd')]);
    expect(spy).toHaveBeenCalled();
    spy.mockRestore();
    expect(errors).toHaveLength(1);
    expect(errors[0].cause).toBeInstanceOf(StoreWriteError);
    expect(errors[0].message).toContain('Nothing was written for this key and event');
    expect([await store.get(key('Internal')), await store.get(key('External'))]).toEqual([{ n: 2 }, { n: 2 }]);
    expect(allFiles(dir).filter((f) => f.startsWith('.'))).toEqual([]);

    await run([ev('s', 'd')]);
    expect([await store.get(key('Internal')), await store.get(key('External'))]).toEqual([{ n: 3 }, { n: 3 }]);
    await store.close();
  });
});
