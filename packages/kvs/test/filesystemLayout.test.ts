import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemKVS } from '../src/backends/FilesystemKVS';
import { ConflictError, CorruptValueError, KVSError, StoreWriteError } from '../src/errors';
import { hashedFilename } from '../src/filenameEncoding';
import { HOST_TAG } from '../src/fs/auxiliaryNames';

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kvs-fs-layout-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
const freshDir = () => join(root, `case-${++n}`);

/** What Python's `json.dump(value, f, indent=4)` writes: 4-space indent, non-ASCII as \uHHHH (hex). */
function pythonJsonDump(value: unknown): string {
  return JSON.stringify(value, null, 4).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The original's own encoding rule, written out independently of src/filenameEncoding.ts. */
function originalSafeFilename(name: string): string {
  return Array.from(name, (c) => (/^[\p{L}\p{N}_]$/u.test(c) ? c : `-${c.codePointAt(0)}-`)).join('');
}

/** Keys and the file names the original wrote for them (shared/spec/reference-vectors.md). */
const ORIGINAL_FILES: [string, string][] = [
  ['[guest]', '-91-guest-93-'],
  ['foo/barła', 'foo-47-barła'],
  ['-123-', '-45-123-45-'],
  ['😀', '-128512-'],
  [
    'Internal,writing_observer.writing_analysis.reconstruct,EventField.doc_id:1AbC-x_y,STUDENT:tc-testcase-bob',
    'Internal-44-writing_observer-46-writing_analysis-46-reconstruct-44-EventField-46-doc_id-58-1AbC-45-x_y-44-STUDENT-58-tc-45-testcase-45-bob',
  ],
  ['External,writing_observer.writing_analysis.time_on_task,STUDENT:[guest]', originalSafeFilename('External,writing_observer.writing_analysis.time_on_task,STUDENT:[guest]')],
];

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid as number;
}

describe('FilesystemKVS reads what the original wrote', () => {
  it('reads a flat folder laid out by the original and lists the original keys', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    ORIGINAL_FILES.forEach(([key, name], i) => writeFileSync(join(dir, name), pythonJsonDump({ key, i, text: 'żółw 😀', nested: { list: [1, 2.5, null, true] } })));
    const store = new FilesystemKVS({ path: dir });
    expect((await store.keys()).sort()).toEqual(ORIGINAL_FILES.map(([k]) => k).sort());
    for (const [i, [key]] of ORIGINAL_FILES.entries()) {
      expect(await store.get(key)).toEqual({ key, i, text: 'żółw 😀', nested: { list: [1, 2.5, null, true] } });
    }
    expect(await store.keys('Internal,')).toEqual([ORIGINAL_FILES[4][0]]);
  });

  it('reads a subdirs folder laid out by the original, returning keys instead of disk paths', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, '_fob'), { recursive: true });
    mkdirSync(join(dir, '_a', '_b'), { recursive: true });
    mkdirSync(join(dir, '_-91-guest-93-'), { recursive: true });
    writeFileSync(join(dir, 'foob'), pythonJsonDump('loo'));
    writeFileSync(join(dir, '_fob', 'perła'), pythonJsonDump('koo'));
    writeFileSync(join(dir, '_a', '_b', 'c'), pythonJsonDump({ deep: true }));
    writeFileSync(join(dir, '_-91-guest-93-', 'doc-44-1'), pythonJsonDump([1]));
    writeFileSync(join(dir, '_solo'), pythonJsonDump('the original wrote key _solo as file _solo'));
    const store = new FilesystemKVS({ path: dir, subdirs: true });
    expect((await store.keys()).sort()).toEqual(['[guest]/doc,1', '_solo', 'a/b/c', 'fob/perła', 'foob']);
    expect(await store.get('fob/perła')).toBe('koo');
    expect(await store.get('a/b/c')).toEqual({ deep: true });
    expect(await store.get('[guest]/doc,1')).toEqual([1]);
    expect(await store.get('_solo')).toBe('the original wrote key _solo as file _solo');
    expect(await store.get('a/b')).toBeUndefined();
  });

  it('moves an original `_x` file aside when key `x/y` needs the folder, keeping both keys', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, '_x'), pythonJsonDump({ was: '_x' }));
    const store = new FilesystemKVS({ path: dir, subdirs: true });
    await store.set('x/y', 'in folder');
    expect(await store.get('_x')).toEqual({ was: '_x' });
    expect(await store.get('x/y')).toBe('in folder');
    expect((await store.keys()).sort()).toEqual(['_x', 'x/y']);
    expect(readdirSync(dir).sort()).toEqual(['-95-x', '_x']);
    await store.update('_x', (v) => ({ ...(v as object), updated: true }));
    expect(await store.get('_x')).toEqual({ was: '_x', updated: true });
  });
});

describe('FilesystemKVS writes what the original reads', () => {
  it('names flat files with the original encoding, no extension, JSON inside', async () => {
    const dir = freshDir();
    const store = new FilesystemKVS({ path: dir });
    for (const [key] of ORIGINAL_FILES) await store.set(key, { key, text: 'żółw 😀' });
    expect(readdirSync(dir).sort()).toEqual(ORIGINAL_FILES.map(([, name]) => name).sort());
    for (const [key, name] of ORIGINAL_FILES) {
      const text = readFileSync(join(dir, name), 'utf8');
      expect(text).toMatch(/^[\x20-\x7e]*$/); // ASCII only, as Python's json.dump
      expect(JSON.parse(text)).toEqual({ key, text: 'żółw 😀' });
    }
  });

  it('lays subdirs keys out as _-prefixed folders, as the original', async () => {
    const dir = freshDir();
    const store = new FilesystemKVS({ path: dir, subdirs: true });
    await store.set('fob/perła', 'koo');
    await store.set('a/b/c', 1);
    await store.set('foob', 'loo');
    expect(readdirSync(dir).sort()).toEqual(['_a', '_fob', 'foob']);
    expect(readdirSync(join(dir, '_fob'))).toEqual(['perła']);
    expect(readdirSync(join(dir, '_a', '_b'))).toEqual(['c']);
    expect(JSON.parse(readFileSync(join(dir, '_fob', 'perła'), 'utf8'))).toBe('koo');
  });

  it('keeps keys `_x` and `x/y` apart in subdirs mode', async () => {
    const dir = freshDir();
    const store = new FilesystemKVS({ path: dir, subdirs: true });
    await store.set('_x', 'underscore');
    await store.set('x/y', 'nested');
    await store.set('x/_y', 'nested underscore');
    await store.set('x/_y/z', 'deeper');
    expect(await store.multiget(['_x', 'x/y', 'x/_y', 'x/_y/z'])).toEqual(['underscore', 'nested', 'nested underscore', 'deeper']);
    expect((await store.keys()).sort()).toEqual(['_x', 'x/_y', 'x/_y/z', 'x/y']);
    expect(readdirSync(dir).sort()).toEqual(['-95-x', '_x']);
    expect(readdirSync(join(dir, '_x')).sort()).toEqual(['-95-y', '__y', 'y']); // folder of x/_y/z: '_' + '_y', as the original
  });
});

describe('FilesystemKVS edge cases', () => {
  it.each([false, true])('stores keys longer than a file name may be (subdirs: %s)', async (subdirs) => {
    const dir = freshDir();
    const store = new FilesystemKVS({ path: dir, subdirs });
    const longUnicode = 'Internal,reducer,STUDENT:' + 'żółw😀'.repeat(60); // 325 code points
    const longAscii = 'k'.repeat(400);
    const longSegment = `short/${'ł'.repeat(300)}/tail`;
    const keys = [longUnicode, longAscii, longSegment];
    for (const key of keys) await store.set(key, { len: key.length });
    for (const key of keys) expect(await store.get(key)).toEqual({ len: key.length });
    expect((await store.keys()).sort()).toEqual([...keys].sort());
    expect(await store.keys('Internal,')).toEqual([longUnicode]);
    const names = readdirSync(dir);
    expect(names).toContain(hashedFilename(longUnicode));
    expect(JSON.parse(readFileSync(join(dir, hashedFilename(longUnicode)), 'utf8'))).toEqual({ key: longUnicode, value: { len: longUnicode.length } });
    expect(await store.update(longAscii, (v) => ({ len: (v as { len: number }).len + 1 }))).toEqual({ len: 401 });
    await store.remove(longUnicode);
    expect(await store.get(longUnicode)).toBeUndefined();
    expect((await store.keys()).sort()).toEqual([longAscii, longSegment].sort());
    expect(await store.dump()).toEqual({ [longAscii]: { len: 401 }, [longSegment]: { len: longSegment.length } });
    await store.clear();
    expect(await store.keys()).toEqual([]);
  });

  it('stores a subdirs key with an empty last segment', async () => {
    const store = new FilesystemKVS({ path: freshDir(), subdirs: true });
    await store.set('folder/', 'trailing slash');
    await store.set('folder/x', 'x');
    expect(await store.get('folder/')).toBe('trailing slash');
    expect((await store.keys()).sort()).toEqual(['folder/', 'folder/x']);
  });

  it('reports invalid JSON in a file as CorruptValueError naming the file', async () => {
    const dir = freshDir();
    const store = new FilesystemKVS({ path: dir });
    await store.set('broken', { ok: true });
    writeFileSync(join(dir, 'broken'), '{"ok": tru');
    const err = await store.get('broken').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptValueError);
    expect((err as Error).message).toContain(join(dir, 'broken'));
    await expect(store.update('broken', () => 1)).rejects.toThrow(CorruptValueError);
    await store.set('broken', 'fixed');
    expect(await store.get('broken')).toBe('fixed');
  });

  it('ignores foreign files and folders in the store folder', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'notes'), { recursive: true });
    writeFileSync(join(dir, 'README.md'), 'not a key');
    writeFileSync(join(dir, '.DS_Store'), 'junk');
    writeFileSync(join(dir, 'a-97-'), 'non-canonical name');
    const store = new FilesystemKVS({ path: dir });
    await store.set('real', 1);
    expect(await store.keys()).toEqual(['real']);
    await store.clear();
    expect(readdirSync(dir).sort()).toEqual(['.DS_Store', 'README.md', 'a-97-', 'notes']);
  });

  it('creates the folder recursively and rejects a missing path clearly', async () => {
    const dir = join(freshDir(), 'deep', 'er', 'est');
    const store = new FilesystemKVS({ path: dir });
    expect(existsSync(dir)).toBe(false);
    await store.set('k', 1);
    expect(readdirSync(dir)).toEqual(['k']);
    expect(() => new FilesystemKVS({ path: '' })).toThrow(KVSError);
    expect(() => new FilesystemKVS({} as { path: string })).toThrow(/needs a `path`/);
  });

  it('reports a path that is a file as StoreWriteError on use, not as an unhandled rejection', async () => {
    const file = join(freshDir() + '-file');
    writeFileSync(file, 'x');
    const store = new FilesystemKVS({ path: file });
    await expect(store.get('k')).rejects.toThrow(StoreWriteError);
    await expect(store.set('k', 1)).rejects.toThrow(/Could not create or open the store folder/);
  });

  it('never lists temp or lock files, and removes those of dead processes', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    const dead = deadPid();
    const leftoverTemp = `.k.${HOST_TAG}-${dead}-abc.tmp`;
    const liveTemp = `.k.${HOST_TAG}-${process.pid}-def.tmp`;
    writeFileSync(join(dir, leftoverTemp), '{"partial": ');
    writeFileSync(join(dir, liveTemp), '{"in flight": ');
    writeFileSync(join(dir, '.k.lock'), JSON.stringify({ pid: dead, host: hostname(), nonce: 'n', at: 0 }));
    writeFileSync(join(dir, 'k'), '1');
    const store = new FilesystemKVS({ path: dir });
    expect(await store.keys()).toEqual(['k']);
    expect(readdirSync(dir).sort()).toEqual([liveTemp, 'k'].sort());
    expect(await store.update('k', (v) => (v as number) + 1)).toBe(2);
  });

  it('breaks the lock of a dead process at once and waits for a live one', async () => {
    const dir = freshDir();
    const store = new FilesystemKVS({ path: dir, lockTimeoutMs: 300, staleLockMs: 60000 });
    await store.set('k', 1);
    writeFileSync(join(dir, '.k.lock'), JSON.stringify({ pid: deadPid(), host: hostname(), nonce: 'n', at: 0 }));
    expect(await store.update('k', (v) => (v as number) + 1)).toBe(2);
    // A lock held by a live process (this one, through another path) makes the update give up.
    writeFileSync(join(dir, '.k.lock'), JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'other', at: Date.now() }));
    const err = await store.update('k', () => 99).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toMatch(/Gave up updating key "k"/);
    expect(await store.get('k')).toBe(2);
    // The same lock, not refreshed for longer than staleLockMs, is broken.
    const old = new Date(Date.now() - 120000);
    utimesSync(join(dir, '.k.lock'), old, old);
    expect(await store.update('k', (v) => (v as number) + 1)).toBe(3);
    expect(readdirSync(dir)).toEqual(['k']);
    // An empty lock (a writer killed before filling it in) counts as held for 2 s, then as stale.
    writeFileSync(join(dir, '.k.lock'), '');
    await expect(store.update('k', () => 99)).rejects.toThrow(ConflictError);
    const seconds = new Date(Date.now() - 5000);
    utimesSync(join(dir, '.k.lock'), seconds, seconds);
    expect(await store.update('k', (v) => (v as number) + 1)).toBe(4);
    expect(readdirSync(dir)).toEqual(['k']);
  });

  it('writes alsoSet keys while holding the main lock, and releases it on errors', async () => {
    const dir = freshDir();
    const store = new FilesystemKVS({ path: dir, subdirs: true, lockTimeoutMs: 500 });
    await store.transaction('main/key', () => ({ value: 1, alsoSet: { 'other/key': 2, '_x': 3 } }));
    expect(await store.multiget(['main/key', 'other/key', '_x'])).toEqual([1, 2, 3]);
    await expect(
      store.transaction('main/key', () => {
        throw new Error('fn failed');
      }),
    ).rejects.toThrow('fn failed');
    expect(readdirSync(join(dir, '_main'))).toEqual(['key']);
    expect(await store.update('main/key', (v) => (v as number) + 1)).toBe(2);
  });
});
