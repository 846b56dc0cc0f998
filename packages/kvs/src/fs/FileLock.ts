import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { ConflictError } from '../errors';
import { basename, dirname, join } from 'node:path';
import { HOST_NAME, processIsAlive, tempFileName } from './auxiliaryNames';

/** How a {@link FileLock} waits and when it judges another holder's lock stale. */
export interface FileLockOptions {
  /** Give up (with `ConflictError`) after waiting this long for the lock. */
  timeoutMs: number;
  /**
   * A lock whose file was not refreshed for this long is stale (its holder hangs or died on another
   * machine). A live holder refreshes its lock every `staleMs / 3`. A lock of a process that no
   * longer runs on this machine is stale at once.
   */
  staleMs: number;
}

/** `link()` errors meaning "this file system has no hard links": fall back to `open(O_EXCL)`. */
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

/** A lock file that was created but never filled in (its writer died at once) is stale after this. */
const EMPTY_LOCK_GRACE_MS = 2000;
/** A guard left by a process that died while breaking a lock is removed after this. */
const STALE_GUARD_MS = 10000;

interface LockRecord {
  pid: number;
  host: string;
  nonce: string;
  at: number;
}

/** What {@link FileLock.breakIfStale} found. */
export type LockState = 'gone' | 'stale' | 'held';

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A lock shared by every process on the machine (and on a shared folder): a file created
 * exclusively (hard link of a filled-in temp file, or `O_EXCL`), holding the owner's pid, host and a nonce. Waiters retry with jittered backoff and
 * break a stale lock (owner process gone, or not refreshed for `staleMs`) under a guard file, so
 * two waiters never both break it. `acquire` throws `ConflictError` when `timeoutMs` runs out.
 *
 * @example
 * const lock = new FileLock('/data/kvs/.k.lock', '/data/kvs/.k.lock.brk', 'k', { timeoutMs: 30000, staleMs: 30000 });
 * await lock.acquire(async () => undefined);
 * try { ... } finally { await lock.release(); }
 */
export class FileLock {
  private nonce: string | undefined = undefined;
  private heartbeat: NodeJS.Timeout | undefined = undefined;
  private useLink = true;
  private acquiredAt = 0;

  constructor(
    private readonly path: string,
    private readonly guardPath: string,
    private readonly key: string,
    private readonly options: FileLockOptions,
  ) {}

  /**
   * Waits until the lock is ours. `recreateFolder` runs when the lock's folder disappeared (a
   * concurrent `clear()`), before trying again. File-system errors other than "exists" are
   * rethrown as they are.
   */
  async acquire(recreateFolder: () => Promise<void>): Promise<void> {
    const started = Date.now();
    const nonce = randomBytes(8).toString('hex');
    const body = JSON.stringify({ pid: process.pid, host: HOST_NAME, nonce, at: started } satisfies LockRecord);
    const attempt = { temp: join(dirname(this.path), tempFileName(basename(this.path))), tempWritten: false, body };
    let attempts = 0;
    let missingFolder = 0;
    try {
      for (;;) {
        attempts++;
        const outcome = await this.tryCreate(attempt);
        if (outcome === 'created') {
          this.nonce = nonce;
          this.acquiredAt = Date.now();
          // A linked lock carries the temp file's mtime: refresh it after a long wait so no one judges it stale.
          if (Date.now() - started > 1000) await this.touch();
          this.startHeartbeat();
          return;
        }
        if (outcome === 'missing-folder') {
          if (++missingFolder > 5) throw new Error(`The folder of lock file ${this.path} keeps disappearing.`);
          await recreateFolder();
          continue;
        }
        const state = await this.breakIfStale();
        if (state === 'gone') continue;
        if (Date.now() - started >= this.options.timeoutMs) throw new ConflictError(this.key, attempts);
        await sleep(Math.min(25, 2 ** Math.min(attempts, 5)) * (0.5 + Math.random()));
      }
    } finally {
      if (attempt.tempWritten) await fsp.unlink(attempt.temp).catch(() => undefined);
    }
  }

  /** Releases the lock, unless another process broke it as stale meanwhile (then it is theirs). */
  async release(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const nonce = this.nonce;
    this.nonce = undefined;
    if (!nonce) return;
    // Nobody can have judged the lock stale by age before staleMs passed (its mtime is at most a
    // second older than the moment it was taken), so a short hold skips re-reading it.
    const heldBriefly = Date.now() - this.acquiredAt < this.options.staleMs - 1000;
    const record = heldBriefly ? undefined : await this.read();
    if (heldBriefly || (record && record !== 'gone' && record.nonce === nonce)) {
      await fsp.unlink(this.path).catch((err) => {
        if (errorCode(err) !== 'ENOENT') throw err;
      });
    }
  }

  /**
   * Creates the lock file with its content in one step: the record is written to a temp file
   * once, then hard-linked to the lock name (`link` fails when the name exists), so a lock file
   * is never seen empty, even when its creator is killed. Where hard links are not supported, it
   * falls back to `open(O_EXCL)` and a write.
   */
  private async tryCreate(attempt: { temp: string; tempWritten: boolean; body: string }): Promise<'created' | 'exists' | 'missing-folder'> {
    if (this.useLink) {
      try {
        if (!attempt.tempWritten) {
          await fsp.writeFile(attempt.temp, attempt.body, { encoding: 'utf8', flag: 'wx' });
          attempt.tempWritten = true;
        }
        await fsp.link(attempt.temp, this.path);
        return 'created';
      } catch (err) {
        const code = errorCode(err);
        if (code === 'EEXIST') return 'exists';
        if (code === 'ENOENT') {
          attempt.tempWritten = false;
          return 'missing-folder';
        }
        if (!attempt.tempWritten || !LINK_UNSUPPORTED.has(code ?? '')) throw err;
        this.useLink = false;
      }
    }
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(this.path, 'wx');
    } catch (err) {
      if (errorCode(err) === 'EEXIST') return 'exists';
      if (errorCode(err) === 'ENOENT') return 'missing-folder';
      throw err;
    }
    try {
      await handle.writeFile(attempt.body, 'utf8');
      await handle.close();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fsp.unlink(this.path).catch(() => undefined);
      throw err;
    }
    return 'created';
  }

  private startHeartbeat(): void {
    const every = Math.max(50, Math.floor(this.options.staleMs / 3));
    this.heartbeat = setInterval(() => void this.touch(), every);
    this.heartbeat.unref();
  }

  private async touch(): Promise<void> {
    const now = new Date();
    await fsp.utimes(this.path, now, now).catch(() => undefined);
  }

  private async read(): Promise<LockRecord | null | 'gone'> {
    let text: string;
    try {
      text = await fsp.readFile(this.path, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return 'gone';
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as LockRecord;
      return parsed && typeof parsed.pid === 'number' ? parsed : null;
    } catch {
      return null;
    }
  }

  /** Whether the current lock file is gone, stale, or held by a live owner. */
  private async inspect(): Promise<LockState> {
    let mtimeMs: number;
    try {
      mtimeMs = (await fsp.stat(this.path)).mtimeMs;
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return 'gone';
      throw err;
    }
    const record = await this.read();
    if (record === 'gone') return 'gone';
    const age = Date.now() - mtimeMs;
    if (record === null) return age > EMPTY_LOCK_GRACE_MS ? 'stale' : 'held';
    if (record.host === HOST_NAME && !processIsAlive(record.pid)) return 'stale';
    return age > this.options.staleMs ? 'stale' : 'held';
  }

  /**
   * Removes the lock file when it is stale and tells what it found ('gone' once removed). Only the process holding the guard file may remove it, and
   * it checks again under the guard, so a lock re-created meanwhile by a live process survives.
   */
  async breakIfStale(): Promise<LockState> {
    const state = await this.inspect();
    if (state !== 'stale') return state;
    try {
      await (await fsp.open(this.guardPath, 'wx')).close();
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
      const age = await fsp.stat(this.guardPath).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > STALE_GUARD_MS) await fsp.unlink(this.guardPath).catch(() => undefined);
      return 'held';
    }
    try {
      if ((await this.inspect()) === 'stale') {
        await fsp.unlink(this.path).catch((err) => {
          if (errorCode(err) !== 'ENOENT') throw err;
        });
      }
    } finally {
      await fsp.unlink(this.guardPath).catch(() => undefined);
    }
    return 'gone';
  }
}

/**
 * Removes `path` if it is a stale lock file (see {@link FileLock}); used when sweeping a folder.
 *
 * @example
 * await removeIfStaleLock('/data/kvs/.k.lock', '/data/kvs/.k.lock.brk', 30000);
 */
export async function removeIfStaleLock(path: string, guardPath: string, staleMs: number): Promise<void> {
  await new FileLock(path, guardPath, '', { timeoutMs: 0, staleMs }).breakIfStale();
}
