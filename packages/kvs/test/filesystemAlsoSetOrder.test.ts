import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemKVS, KVSError } from '@learning-observer/kvs';

// The reducers' resume mode keeps its position in the main key of a transaction: the alsoSet keys
// must be on disk before the main key is, so a crash in between redoes the step.
describe('FilesystemKVS transaction write order', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lo-fs-order-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a failed alsoSet write leaves the main key untouched', async () => {
    const store = new FilesystemKVS({ path: dir, fsync: false });
    await store.set('main', 1);
    // A non-empty folder where the alsoSet key's file goes: its rename fails (even for root).
    mkdirSync(join(dir, 'ext'));
    writeFileSync(join(dir, 'ext', 'x'), '');
    await expect(store.transaction('main', () => ({ value: 2, alsoSet: { ext: 'e' } }))).rejects.toBeInstanceOf(KVSError);
    expect(await store.get('main')).toBe(1);
  });

  test('both are written when nothing fails', async () => {
    const store = new FilesystemKVS({ path: dir, fsync: false });
    await store.transaction('main', () => ({ value: 2, alsoSet: { ext: 'e' } }));
    expect(await store.multiget(['main', 'ext'])).toEqual([2, 'e']);
  });
});
