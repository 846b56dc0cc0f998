import { promises as fsp } from 'node:fs';
import { pipeline, Readable, Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { LogFileError } from './LogFileError';

/** An opened log file: its decompressed byte chunks and whether it was gzip. */
export interface OpenedLogFile {
  chunks: Readable;
  gzip: boolean;
  /** Closes the file early (safe to call more than once). */
  close(): void;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Size in bytes of a regular file; throws {@link LogFileError} when it is missing or not a file.
 * @example
 * ```ts
 * await logFileSize('day1.jsonl.gz'); // bytes on disk
 * ```
 */
export async function logFileSize(file: string): Promise<number> {
  let stat;
  try {
    stat = await fsp.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LogFileError(file, code === 'ENOENT' ? 'no such file' : (e as Error).message, { cause: e });
  }
  if (!stat.isFile()) throw new LogFileError(file, 'not a regular file');
  return stat.size;
}

/**
 * Opens a log file for streaming. Gzip is recognised by its magic bytes (`1f 8b`), whatever the
 * file is called. `onBytes` is told how many bytes were read from disk (compressed bytes for gzip),
 * for progress reporting.
 *
 * @example
 * ```ts
 * const f = await openLogFile('events.log.gz', 65536, (n) => (read += n));
 * for await (const chunk of f.chunks) process(chunk);
 * ```
 */
export async function openLogFile(file: string, chunkBytes: number, onBytes: (n: number) => void): Promise<OpenedLogFile> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    throw new LogFileError(file, (e as Error).message, { cause: e });
  }
  let gzip = false;
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    gzip = bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw new LogFileError(file, (e as Error).message, { cause: e });
  }
  const raw = fh.createReadStream({ start: 0, highWaterMark: chunkBytes, autoClose: true });
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
  const gunzip = gzip ? zlib.createGunzip({ chunkSize: Math.max(64, chunkBytes) }) : undefined;
  const last = gunzip ?? counter;
  if (gunzip) pipeline(raw, counter, gunzip, () => undefined);
  else pipeline(raw, counter, () => undefined);
  return {
    chunks: last,
    gzip,
    close: () => {
      last.destroy();
      raw.destroy();
    },
  };
}
