import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { tempFileName } from './auxiliaryNames';

/** A temp file written and synced by {@link stageFileAtomic}, not yet in place. */
export interface StagedFile {
  /** Renames the temp file over the target (the content appears atomically). */
  commit(): Promise<void>;
  /** Removes the temp file; the target stays as it was. */
  abort(): Promise<void>;
}

/**
 * The first half of {@link writeFileAtomic}: writes `data` to a temp file next to `dir/name` and
 * fsyncs it (when `fsync`), without touching the target. The steps that need disk space happen
 * here, so a caller can stage several files and commit them (renames) only once all are written.
 * On any error the temp file is removed and the error is rethrown as it came from the file system.
 *
 * @example
 * const staged = await stageFileAtomic('/data/kvs', 'my-45-key', '{"a":1}', true);
 * await staged.commit(); // or staged.abort()
 */
export async function stageFileAtomic(dir: string, name: string, data: string, fsync: boolean): Promise<StagedFile> {
  const temp = join(dir, tempFileName(name));
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(temp, 'wx');
    await handle.writeFile(data, 'utf8');
    if (fsync) await handle.sync();
    const closing = handle;
    handle = undefined;
    await closing.close();
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fsp.unlink(temp).catch(() => undefined);
    throw err;
  }
  return {
    commit: async () => {
      try {
        await fsp.rename(temp, join(dir, name));
      } catch (err) {
        await fsp.unlink(temp).catch(() => undefined);
        throw err;
      }
    },
    abort: () => fsp.unlink(temp).catch(() => undefined),
  };
}

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
  await (await stageFileAtomic(dir, name, data, fsync)).commit();
}
