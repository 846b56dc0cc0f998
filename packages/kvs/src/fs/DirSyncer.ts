import * as fsp from 'node:fs/promises';

/**
 * Flushes directory entries (new names from `rename`) to disk with `fsync` on the folder,
 * coalescing concurrent requests: a caller waits for a sync that started after its call, and all
 * callers arriving while one sync runs share the next one. Errors are ignored (some file systems
 * cannot fsync a folder); the file data itself was already synced by the writer.
 *
 * @example
 * const syncer = new DirSyncer();
 * await rename(tmp, file);
 * await syncer.sync(dirname(file));
 */
export class DirSyncer {
  private readonly running = new Map<string, Promise<void>>();
  private readonly queued = new Map<string, Promise<void>>();

  /** Resolves once an fsync of `dir` that started after this call has finished. */
  sync(dir: string): Promise<void> {
    const queued = this.queued.get(dir);
    if (queued) return queued;
    const running = this.running.get(dir);
    if (!running) return this.start(dir);
    const next = running.then(() => {
      this.queued.delete(dir);
      return this.start(dir);
    });
    this.queued.set(dir, next);
    return next;
  }

  private start(dir: string): Promise<void> {
    const run = fsyncDirectory(dir).finally(() => {
      if (this.running.get(dir) === run) this.running.delete(dir);
    });
    this.running.set(dir, run);
    return run;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort: not every platform or file system supports fsync on a folder.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
