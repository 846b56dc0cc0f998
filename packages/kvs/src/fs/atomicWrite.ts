import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { tempFileName } from './auxiliaryNames';

/**
 * Replaces `dir/name` with `data` atomically: writes a temp file in the same folder, fsyncs it
 * (when `fsync`), and renames it over the target, so readers see the old or the new content,
 * never a partial file. On any error the temp file is removed and the target is untouched; the
 * error is rethrown as it came from the file system.
 *
 * @example
 * await writeFileAtomic('/data/kvs', 'my-45-key', '{"a":1}', true);
 */
export async function writeFileAtomic(dir: string, name: string, data: string, fsync: boolean): Promise<void> {
  const temp = join(dir, tempFileName(name));
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(temp, 'wx');
    await handle.writeFile(data, 'utf8');
    if (fsync) await handle.sync();
    const closing = handle;
    handle = undefined;
    await closing.close();
    await fsp.rename(temp, join(dir, name));
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fsp.unlink(temp).catch(() => undefined);
    throw err;
  }
}
