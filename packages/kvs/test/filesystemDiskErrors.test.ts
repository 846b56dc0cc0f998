// The real fs.promises object (a namespace import would be a read-only copy), so spies reach the store.
import { mkdtempSync, promises as fsp, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemKVS } from '../src/backends/FilesystemKVS';
import { StoreWriteError } from '../src/errors';

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kvs-fs-errors-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/** Makes every write to a temp file fail with ENOSPC, as a full disk does. */
function fillDisk(): jest.SpyInstance {
  const realOpen = fsp.open;
  return jest.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realOpen(...args);
    if (String(args[0]).endsWith('.tmp')) {
      handle.writeFile = async () => {
        throw enospc();
      };
    }
    return handle;
  });
}

describe.each([false, true])('FilesystemKVS on a full disk (subdirs: %s)', (subdirs) => {
  it('rejects set and update with StoreWriteError and keeps the old value', async () => {
    const dir = join(root, `case-${++n}`);
    const store = new FilesystemKVS({ path: dir, subdirs });
    await store.set('dir/key', { version: 1 });
    const spy = fillDisk();

    const err = await store.set('dir/key', { version: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreWriteError);
    expect((err as Error).message).toMatch(/ENOSPC/);
    expect((err as Error).message).toMatch(/previous value is unchanged/);
    expect((err as Error).message).toMatch(/Free some disk space/);
    await expect(store.update('dir/key', () => ({ version: 3 }))).rejects.toThrow(StoreWriteError);
    await expect(store.transaction('dir/key', () => ({ alsoSet: { 'other': 1 } }))).rejects.toThrow(StoreWriteError);
    expect(spy).toHaveBeenCalled();
    expect(await store.get('dir/key')).toEqual({ version: 1 });
    expect(await store.get('other')).toBeUndefined();

    spy.mockRestore();
    const keyFolder = subdirs ? join(dir, '_dir') : dir;
    expect(readdirSync(keyFolder)).toEqual([subdirs ? 'key' : 'dir-47-key']); // no temp or lock file left
    expect(await store.update('dir/key', (v) => ({ version: (v as { version: number }).version + 1 }))).toEqual({ version: 2 });
  });
});
