import * as fsp from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { BaseKVS } from '../BaseKVS';
import { CorruptValueError, KVSError, StoreUnavailableError, StoreWriteError } from '../errors';
import { isHashedFilename, keyToRelativePath, relativePathToKey } from '../filenameEncoding';
import { stageFileAtomic, writeFileAtomic, type StagedFile } from '../fs/atomicWrite';
import { classifyAuxiliaryFile, HOST_TAG, lockFileName, lockGuardFileName, processIsAlive } from '../fs/auxiliaryNames';
import { DirSyncer } from '../fs/DirSyncer';
import { FileLock, removeIfStaleLock } from '../fs/FileLock';
import { KeyedQueue } from '../fs/KeyedQueue';
import { mapLimit } from '../fs/mapLimit';
import { readTextFile } from '../fs/readTextFile';
import { assertKey } from '../json';
import type { JsonValue, TransactionFn, TransactionResult } from '../types';

/** Options of {@link FilesystemKVS}. */
export interface FilesystemKVSOptions {
  /** Folder holding the files; created (with its parents) on first use. Relative paths resolve against the current directory. */
  path: string;
  /** Mirror `/`-separated key segments as `_`-prefixed folders, as the original does (default false). */
  subdirs?: boolean;
  /** fsync every written file and its folder before a write resolves (default true). */
  fsync?: boolean;
  /** How long `update`/`transaction` waits for another process's lock before `ConflictError` (default 30000 ms). */
  lockTimeoutMs?: number;
  /** A lock not refreshed for this long is broken as stale (default 30000 ms); locks of dead processes break at once. */
  staleLockMs?: number;
}

/** Where one key lives on disk. */
interface Location {
  /** Absolute folder of the key's file. */
  dir: string;
  /** File name inside `dir`. */
  name: string;
  /** Absolute path of the file. */
  file: string;
  /** True for a `~<sha256>` file holding `{ key, value }`. */
  hashed: boolean;
  /** subdirs mode, last segment starting with `_`: the path the original used for it. */
  legacy: string | undefined;
}

/** A key file found while scanning the folder. */
interface FoundFile {
  file: string;
  /** The decoded key, or undefined for a hashed file (the key is inside). */
  key: string | undefined;
}

/** Temp files of writers that cannot be proven dead are removed after this long. */
const STALE_TEMP_MS = 10 * 60 * 1000;
/** Lock-breaking guards older than this are leftovers. */
const STALE_GUARD_MS = 10 * 1000;
/** File operations pending at once in multiget/setMany/keys/clear (the I/O threads take them in turn). */
const PARALLEL_FILES = 64;

const NON_ASCII = /[\u007f-\uffff]/g;

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

/** JSON with every non-ASCII character escaped, as Python's `json.dump` writes it. */
function asciiJson(value: unknown): string {
  const text = JSON.stringify(value);
  return NON_ASCII.test(text) ? text.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}

function writeHint(code: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'Free some disk space (or raise the quota) and retry.';
    case 'EACCES':
    case 'EPERM':
      return "Check the store folder's permissions.";
    case 'EROFS':
      return 'The file system is read-only; point `path` at a writable folder.';
    default:
      return 'Check the store folder and retry.';
  }
}

/**
 * The `filesystem` backend: one JSON file per key under `path`, laid out exactly as the Python
 * original lays it out, so a folder it wrote reads here and the other way round.
 *
 * - File names: letters, digits and `_` stay, every other code point becomes `-<decimal>-`
 *   (`foo/barła` -> `foo-47-barła`), no extension. With `subdirs: true`, `a/b/c` is stored as
 *   `_a/_b/c`; a last segment starting with `_` is written `-95-…` so key `_x` and folder `_x`
 *   (of key `x/y`) never collide (files the original wrote as `_x` still read). `keys()` returns
 *   the keys as they were set.
 * - Keys whose names would be too long for the file system (over 255 bytes) live in a top-level
 *   `~<sha256 of key>` file holding `{"key": ..., "value": ...}`.
 * - Writes are atomic (temp file in the same folder, fsync, rename, fsync of the folder): a
 *   reader sees the old or the new JSON, never a partial one. Temp and lock files start with `.`,
 *   are never listed, and those left by dead processes are removed on open, `keys()` and `clear()`.
 * - `update`/`transaction` are atomic across processes: a per-key lock file (created with
 *   `O_EXCL`, broken when its owner died or stopped refreshing it), plus per-key queueing inside
 *   one process. A waiter gives up after `lockTimeoutMs` with `ConflictError`. `alsoSet` keys
 *   are written while the main key's lock is held, and before the main key (a crash in between
 *   leaves the main key's old value). A plain `set` is a blind, atomic write (last
 *   writer wins); use `update` to combine with concurrent updaters.
 * - Disk errors (disk full, permissions) reject with `StoreWriteError` and leave the previous
 *   value intact; a file that is not valid JSON rejects with `CorruptValueError` naming the file.
 *   `transaction` and `setMany` write all new contents to temp files before renaming any into
 *   place, so a full disk leaves every key of the call unchanged (not some old, some new).
 *
 * @example
 * ```ts
 * const store = new FilesystemKVS({ path: '.lo_kvs', subdirs: false });
 * await store.set('foo/barła', { n: 1 });        // writes .lo_kvs/foo-47-barła
 * await store.update('foo/barła', (v) => ({ n: (v as { n: number }).n + 1 }));
 * await store.keys('foo/');                      // ['foo/barła']
 * ```
 */
export class FilesystemKVS extends BaseKVS {
  static override readonly publicMembers: readonly string[] = [...BaseKVS.publicMembers, 'folder', 'subdirs'];
  readonly type = 'filesystem';
  /** Absolute path of the store's folder (the `path` option, resolved). */
  readonly folder: string;
  /** Whether `/` in keys maps to folders. */
  readonly subdirs: boolean;
  private readonly fsync: boolean;
  private readonly lockOptions: { timeoutMs: number; staleMs: number };
  private readonly writes = new KeyedQueue();
  private readonly transactions = new KeyedQueue();
  private readonly dirSyncer = new DirSyncer();
  private readonly knownDirs = new Set<string>();
  private ready: Promise<void> | undefined = undefined;

  constructor(options: FilesystemKVSOptions) {
    super();
    if (!options || typeof options.path !== 'string' || options.path === '') {
      throw new KVSError('FilesystemKVS needs a `path`: the folder that holds one JSON file per key (e.g. `{ path: ".lo_kvs" }`).');
    }
    if (options.subdirs !== undefined && typeof options.subdirs !== 'boolean') {
      throw new KVSError(`FilesystemKVS \`subdirs\` must be true or false, not ${JSON.stringify(options.subdirs)}.`);
    }
    this.folder = resolve(options.path);
    this.subdirs = options.subdirs ?? false;
    this.fsync = options.fsync ?? true;
    this.lockOptions = { timeoutMs: options.lockTimeoutMs ?? 30000, staleMs: options.staleLockMs ?? 30000 };
  }

  override async get(key: string): Promise<JsonValue | undefined> {
    this.checkOpen();
    assertKey(key);
    await this.init();
    return this.readEntry(key, this.locate(key));
  }

  override async set(key: string, value: JsonValue): Promise<void> {
    this.checkWrite(key, value);
    await this.queueWrite(key, value);
  }

  /**
   * Writes several keys in two steps: every new content goes to its temp file first (the step
   * that needs disk space), then all are renamed into place, and each folder that received a
   * file is fsynced once (not once per file) before the call resolves. A full disk therefore
   * leaves every key as it was, and the call rejects only after all its file operations have ended.
   */
  override async setMany(entries: Iterable<readonly [string, JsonValue]>): Promise<void> {
    const items = [...new Map(this.checkEntries(entries))].map(([key, value]) => ({ key, value, loc: this.locate(key) }));
    await this.init();
    const indices = items.map((_, i) => i);
    const staged: (StagedFile | undefined)[] = new Array(items.length);
    try {
      await mapLimit(
        indices,
        async (i) => {
          staged[i] = await this.stageEntry(items[i].key, items[i].loc, items[i].value);
        },
        PARALLEL_FILES,
      );
    } catch (error) {
      await Promise.all(staged.map((s) => s?.abort()));
      throw error;
    }
    const renamed = new Array<boolean>(items.length).fill(false);
    let failure: { error: unknown } | undefined;
    await mapLimit(
      indices,
      async (i) => {
        const { key, loc, value } = items[i];
        try {
          renamed[i] = await this.writes.run(key, () => this.renameEntry(key, loc, staged[i] as StagedFile, value));
        } catch (error) {
          failure ??= { error };
        }
      },
      PARALLEL_FILES,
    );
    // One fsync per folder for all the renames into it (DirSyncer: one that started after them),
    // instead of one per file: a batch of 64 files used to wait for a folder fsync of its own.
    if (this.fsync) {
      const dirs = new Set(items.filter((_, i) => renamed[i]).map((it) => it.loc.dir));
      await Promise.all([...dirs].map((dir) => this.dirSyncer.sync(dir)));
    }
    await Promise.all(items.map((it, i) => (renamed[i] && it.loc.legacy ? fsp.unlink(it.loc.legacy).catch(() => undefined) : undefined)));
    if (failure) throw failure.error;
  }

  override async keys(prefix?: string): Promise<string[]> {
    this.checkOpen();
    await this.init();
    const { files } = await this.scan();
    const keys = await mapLimit(files, async (f) => f.key ?? (await this.readHashedKey(f.file)), PARALLEL_FILES);
    const out = new Set<string>();
    for (const key of keys) {
      if (key !== undefined && (!prefix || key.startsWith(prefix))) out.add(key);
    }
    return [...out];
  }

  override async multiget(keys: readonly string[]): Promise<(JsonValue | undefined)[]> {
    this.checkOpen();
    keys.forEach((key) => assertKey(key));
    await this.init();
    return mapLimit(keys, (key) => this.readEntry(key, this.locate(key)), PARALLEL_FILES);
  }

  override async remove(key: string): Promise<void> {
    this.checkOpen();
    assertKey(key);
    const loc = this.locate(key);
    await this.writes.run(key, async () => {
      await this.init();
      for (const file of [loc.file, loc.legacy]) {
        if (file) await this.unlinkKeyFile(key, file);
      }
    });
  }

  override async clear(): Promise<void> {
    this.checkOpen();
    await this.init();
    const { files, dirs } = await this.scan();
    await mapLimit(files, (f) => this.unlinkKeyFile(f.key ?? f.file, f.file), PARALLEL_FILES);
    for (const dir of dirs.sort((a, b) => b.length - a.length)) {
      await fsp.rmdir(dir).catch(() => undefined);
    }
    this.knownDirs.clear();
  }

  override async transaction(key: string, fn: TransactionFn): Promise<TransactionResult> {
    this.checkOpen();
    assertKey(key);
    const loc = this.locate(key);
    return this.transactions.run(key, async () => {
      this.checkOpen();
      await this.init();
      const lock = new FileLock(join(loc.dir, lockFileName(loc.name)), join(loc.dir, lockGuardFileName(loc.name)), key, this.lockOptions);
      try {
        await this.ensureDir(loc.dir);
        await lock.acquire(() => this.ensureDir(loc.dir, true));
      } catch (err) {
        throw err instanceof KVSError ? err : this.writeError(key, join(loc.dir, lockFileName(loc.name)), err);
      }
      try {
        const result = await fn(await this.readEntry(key, loc));
        this.checkTransactionResult(key, result);
        this.checkOpen();
        // The alsoSet keys are written (and synced) before the main key: after a crash in
        // between, the main key still holds its old value, so a caller that keeps its progress
        // in the main key (the reducers' resume mode) redoes the step and rewrites them.
        // The main key's new content is written to its temp file first, though: a full disk
        // then fails the transaction before any key changed, and only the rename is left.
        const staged = result.value === undefined ? undefined : await this.stageEntry(key, loc, result.value);
        try {
          const writes: Promise<void>[] = [];
          for (const [k, v] of Object.entries(result.alsoSet ?? {})) writes.push(this.queueWrite(k, v));
          const outcomes = await Promise.allSettled(writes);
          const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
          if (failed) throw failed.reason;
        } catch (err) {
          await staged?.abort();
          throw err;
        }
        if (staged !== undefined && result.value !== undefined) await this.writes.run(key, () => this.commitEntry(key, loc, staged, result.value as JsonValue));
        return result;
      } finally {
        await lock.release().catch(() => undefined);
      }
    });
  }

  override async close(): Promise<void> {
    this.closed = true;
  }

  /** Creates the folder and sweeps leftovers of dead writers from it, once per store. */
  private init(): Promise<void> {
    if (!this.ready) {
      this.ready = this.prepare().catch((err) => {
        this.ready = undefined;
        throw err;
      });
    }
    return this.ready;
  }

  private async prepare(): Promise<void> {
    let names: string[];
    try {
      await fsp.mkdir(this.folder, { recursive: true });
      names = await fsp.readdir(this.folder);
    } catch (err) {
      throw new StoreWriteError(
        `Could not create or open the store folder ${this.folder} (${errorCode(err)}: ${(err as Error).message}). ` +
          'Check that `path` is a folder you can write to.',
        { cause: err },
      );
    }
    await mapLimit(
      names.filter((n) => n.startsWith('.')),
      (n) => this.sweep(this.folder, n),
      PARALLEL_FILES,
    );
  }

  private locate(key: string): Location {
    const rel = keyToRelativePath(key, this.subdirs);
    const slash = rel.lastIndexOf('/');
    const dir = slash < 0 ? this.folder : join(this.folder, ...rel.slice(0, slash).split('/'));
    const name = rel.slice(slash + 1);
    const hashed = isHashedFilename(name);
    const legacy = this.subdirs && !hashed && name.startsWith('-95-') ? join(dir, '_' + name.slice(4)) : undefined;
    return { dir, name, file: join(dir, name), hashed, legacy };
  }

  private async readText(file: string): Promise<string | undefined> {
    try {
      return await readTextFile(file);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
      throw new StoreUnavailableError(`Could not read ${file} (${code}: ${(err as Error).message}). Check the store folder's permissions.`, {
        cause: err,
      });
    }
  }

  private parse(file: string, text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new CorruptValueError(
        `${file} is not valid JSON (${(err as Error).message}). It holds one key of a filesystem store: fix or delete the file.`,
      );
    }
  }

  private async readEntry(key: string, loc: Location): Promise<JsonValue | undefined> {
    let file = loc.file;
    let text = await this.readText(file);
    if (text === undefined && loc.legacy) {
      file = loc.legacy;
      text = await this.readText(file);
    }
    if (text === undefined) return undefined;
    const data = this.parse(file, text);
    if (!loc.hashed) return data as JsonValue;
    const envelope = data as { key?: unknown; value?: JsonValue } | null;
    if (!envelope || typeof envelope !== 'object' || typeof envelope.key !== 'string' || !('value' in envelope)) {
      throw new CorruptValueError(`${file} should hold {"key": ..., "value": ...} (a key too long for a file name); fix or delete the file.`);
    }
    if (envelope.key !== key) {
      throw new CorruptValueError(`${file} holds key ${JSON.stringify(envelope.key)}, not ${JSON.stringify(key)}; delete the file.`);
    }
    return envelope.value;
  }

  private async readHashedKey(file: string): Promise<string | undefined> {
    const text = await this.readText(file);
    if (text === undefined) return undefined;
    const data = this.parse(file, text) as { key?: unknown } | null;
    if (!data || typeof data !== 'object' || typeof data.key !== 'string') {
      throw new CorruptValueError(`${file} should hold {"key": ..., "value": ...} (a key too long for a file name); fix or delete the file.`);
    }
    return data.key;
  }

  /** Validates, serialises and queues a write behind earlier writes of the same key. */
  private queueWrite(key: string, value: JsonValue): Promise<void> {
    const loc = this.locate(key);
    const text = asciiJson(loc.hashed ? { key, value } : value);
    return this.writes.run(key, () => this.writeEntry(key, loc, text));
  }

  /** Writes `value` to `key`'s temp file (folder created, fsynced) without putting it in place. */
  private async stageEntry(key: string, loc: Location, value: JsonValue): Promise<StagedFile> {
    const text = asciiJson(loc.hashed ? { key, value } : value);
    try {
      await this.ensureDir(loc.dir);
      try {
        return await stageFileAtomic(loc.dir, loc.name, text, this.fsync);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
        await this.ensureDir(loc.dir, true);
        return await stageFileAtomic(loc.dir, loc.name, text, this.fsync);
      }
    } catch (err) {
      throw err instanceof KVSError ? err : this.writeError(key, loc.file, err);
    }
  }

  /** Puts a staged file in place, folder synced; if its folder vanished meanwhile, writes `value` afresh. */
  private async commitEntry(key: string, loc: Location, staged: StagedFile, value: JsonValue): Promise<void> {
    if (!(await this.renameEntry(key, loc, staged, value))) return;
    if (this.fsync) await this.dirSyncer.sync(loc.dir);
    if (loc.legacy) await fsp.unlink(loc.legacy).catch(() => undefined);
  }

  /**
   * Renames a staged file into place without syncing its folder: resolves true when the caller
   * still has to fsync `loc.dir` (and remove `loc.legacy`), false when the folder had vanished and
   * `value` was written afresh (synced, legacy file removed).
   */
  private async renameEntry(key: string, loc: Location, staged: StagedFile, value: JsonValue): Promise<boolean> {
    try {
      this.checkOpen();
    } catch (err) {
      await staged.abort();
      throw err;
    }
    try {
      await staged.commit();
      return true;
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err instanceof KVSError ? err : this.writeError(key, loc.file, err);
      await this.writeEntry(key, loc, asciiJson(loc.hashed ? { key, value } : value));
      return false;
    }
  }

  private async writeEntry(key: string, loc: Location, text: string): Promise<void> {
    this.checkOpen();
    await this.init();
    try {
      await this.ensureDir(loc.dir);
      try {
        await writeFileAtomic(loc.dir, loc.name, text, this.fsync);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
        // The folder vanished (a concurrent clear() in another process): create it again.
        await this.ensureDir(loc.dir, true);
        await writeFileAtomic(loc.dir, loc.name, text, this.fsync);
      }
      if (this.fsync) await this.dirSyncer.sync(loc.dir);
    } catch (err) {
      throw err instanceof KVSError ? err : this.writeError(key, loc.file, err);
    }
    if (loc.legacy) await fsp.unlink(loc.legacy).catch(() => undefined);
  }

  private writeError(key: string, file: string, err: unknown): StoreWriteError {
    const code = errorCode(err);
    return new StoreWriteError(
      `Could not write key ${JSON.stringify(key)} to ${file} (${code}: ${(err as Error).message}); its previous value is unchanged. ${writeHint(code)}`,
      { cause: err },
    );
  }

  private async unlinkKeyFile(key: string, file: string): Promise<void> {
    try {
      await fsp.unlink(file);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return;
      if (code === 'EPERM') {
        // unlink() of a folder fails with EPERM on some systems: a folder is not a key file.
        const isDir = await fsp.stat(file).then((s) => s.isDirectory(), () => false);
        if (isDir) return;
      }
      throw new StoreWriteError(`Could not remove key ${JSON.stringify(key)} (${file}, ${code}: ${(err as Error).message}). ${writeHint(code)}`, {
        cause: err,
      });
    }
  }

  /** Creates `dir` (subdirs mode), moving aside a file the original left where a folder must go. */
  private async ensureDir(dir: string, force = false): Promise<void> {
    if (!force && (dir === this.folder || this.knownDirs.has(dir))) return;
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (err) {
      const code = errorCode(err);
      if (!this.subdirs || (code !== 'EEXIST' && code !== 'ENOTDIR')) throw err;
      await this.moveLegacyFilesOutOf(dir);
      await fsp.mkdir(dir, { recursive: true });
    }
    this.knownDirs.add(dir);
  }

  /**
   * The original stores key `_x` as file `_x`, the name our folder for keys `x/...` needs. Such
   * a file is renamed to our name for `_x` (`-95-x`) unless that already exists (then it is the
   * newer copy and the old file goes).
   */
  private async moveLegacyFilesOutOf(dir: string): Promise<void> {
    let current = this.folder;
    for (const segment of relative(this.folder, dir).split(sep)) {
      current = join(current, segment);
      let stats;
      try {
        stats = await fsp.stat(current);
      } catch {
        return;
      }
      if (stats.isDirectory()) continue;
      if (!segment.startsWith('_')) return;
      const target = join(dirname(current), `-95-${segment.slice(1)}`);
      const targetExists = await fsp.stat(target).then(
        () => true,
        () => false,
      );
      if (targetExists) await fsp.unlink(current);
      else await fsp.rename(current, target);
      return;
    }
  }

  /** Lists key files (and, in subdirs mode, folders), removing leftovers of dead writers on the way. */
  private async scan(): Promise<{ files: FoundFile[]; dirs: string[] }> {
    const files: FoundFile[] = [];
    const dirs: string[] = [];
    const visit = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return;
        throw new StoreUnavailableError(`Could not list ${dir} (${errorCode(err)}: ${(err as Error).message}). Check the store folder's permissions.`, {
          cause: err,
        });
      }
      const sweeps: string[] = [];
      const subfolders: string[] = [];
      for (const entry of entries) {
        const name = entry.name;
        if (name.startsWith('.')) {
          sweeps.push(name);
        } else if (entry.isDirectory()) {
          if (this.subdirs && name.startsWith('_')) subfolders.push(name);
        } else if (entry.isFile() || entry.isSymbolicLink()) {
          if (isHashedFilename(name)) {
            files.push({ file: join(dir, name), key: undefined });
          } else {
            const key = relativePathToKey(rel + name, this.subdirs);
            if (key !== undefined) files.push({ file: join(dir, name), key });
          }
        }
      }
      await mapLimit(sweeps, (name) => this.sweep(dir, name), PARALLEL_FILES);
      for (const name of subfolders) {
        const path = join(dir, name);
        dirs.push(path);
        await visit(path, `${rel}${name}/`);
      }
    };
    await visit(this.folder, '');
    return { files, dirs };
  }

  /** Removes a temp file, lock or guard in `dir` whose writer is gone. */
  private async sweep(dir: string, name: string): Promise<void> {
    const path = join(dir, name);
    const aux = classifyAuxiliaryFile(name);
    const age = async (): Promise<number> =>
      fsp.stat(path).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
    try {
      switch (aux.kind) {
        case 'temp':
          if ((aux.hostTag === HOST_TAG && !processIsAlive(aux.pid)) || (await age()) > STALE_TEMP_MS) await fsp.unlink(path);
          return;
        case 'lock':
          await removeIfStaleLock(path, `${path}.brk`, this.lockOptions.staleMs);
          return;
        case 'guard':
          if ((await age()) > STALE_GUARD_MS) await fsp.unlink(path);
          return;
        default:
          return;
      }
    } catch {
      // Another process removed or replaced it meanwhile; nothing to clean.
    }
  }
}
