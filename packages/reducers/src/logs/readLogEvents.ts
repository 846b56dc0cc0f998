import { LogFileError } from './LogFileError';
import { logFileSize, openLogFile } from './openLogFile';
import { parseLogLine } from './parseLogLine';
import { splitLines } from './splitLines';
import type { BadLine, LogReadStats, LogRecord, ReadLogOptions } from './types';

/**
 * Default cap on one line: 16 MiB.
 * @example
 * ```ts
 * readLogEvents(files, { maxLineBytes: 4 * DEFAULT_MAX_LINE_BYTES });
 * ```
 */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Streams events out of log files, one line at a time (memory stays flat for any file size).
 * Iterate it with `for await`; read {@link LogReader.stats} at any time for progress.
 * Create one with {@link readLogEvents}.
 *
 * @example
 * ```ts
 * const reader = readLogEvents('day1.jsonl');
 * for await (const { event } of reader) handle(event);
 * reader.stats.badByReason; // { 'not-json': 2 }
 * ```
 */
export class LogReader implements AsyncIterable<LogRecord> {
  /** Counters, updated while iterating. */
  readonly stats: LogReadStats = LogReader.emptyStats();
  private readonly files: string[];
  private readonly maxLineBytes: number;
  private readonly chunkBytes: number;

  constructor(
    files: string | readonly string[],
    private readonly options: ReadLogOptions = {},
  ) {
    this.files = typeof files === 'string' ? [files] : [...files];
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.chunkBytes = options.chunkBytes ?? 64 * 1024;
  }

  private static emptyStats(): LogReadStats {
    return { filesRead: 0, bytesRead: 0, totalBytes: 0, lines: 0, events: 0, badLines: 0, badByReason: {} };
  }

  [Symbol.asyncIterator](): AsyncIterator<LogRecord> {
    return this.read();
  }

  private report(bad: BadLine): void {
    this.stats.badLines += 1;
    this.stats.badByReason[bad.reason] = (this.stats.badByReason[bad.reason] ?? 0) + 1;
    this.options.onBadLine?.(bad);
  }

  private async *read(): AsyncGenerator<LogRecord> {
    Object.assign(this.stats, LogReader.emptyStats(), { badByReason: {} });
    // Check every file before the first event, so a typo in the last path fails fast.
    let total = 0;
    for (const file of this.files) total += await logFileSize(file);
    this.stats.totalBytes = total;
    for (const file of this.files) yield* this.readFile(file);
  }

  private async *readFile(file: string): AsyncGenerator<LogRecord> {
    const opened = await openLogFile(file, this.chunkBytes, (n) => {
      this.stats.bytesRead += n;
    });
    this.stats.filesRead += 1;
    let lastLine = 0;
    try {
      for await (const raw of splitLines(opened.chunks, this.maxLineBytes)) {
        lastLine = raw.line;
        this.stats.lines += 1;
        if (raw.bytes === null) {
          this.report({
            file,
            line: raw.line,
            reason: 'line-too-long',
            message: `the line is ${raw.length} bytes, over the ${this.maxLineBytes}-byte limit`,
            excerpt: '',
          });
          continue;
        }
        const parsed = parseLogLine(raw.bytes);
        if (parsed.kind === 'blank') continue;
        if (parsed.kind === 'bad') {
          this.report({ file, line: raw.line, reason: parsed.reason, message: parsed.message, excerpt: parsed.excerpt });
          continue;
        }
        this.stats.events += 1;
        const record: LogRecord = { event: parsed.event, file, line: raw.line };
        if (parsed.loggedAt !== undefined) record.loggedAt = parsed.loggedAt;
        yield record;
      }
    } catch (e) {
      if (e instanceof LogFileError) throw e;
      // A truncated or corrupt gzip stream, or a read error mid-file: report it, go on with the next file.
      this.report({
        file,
        line: lastLine + 1,
        reason: 'unreadable-file',
        message: `reading stopped: ${(e as Error).message}${opened.gzip ? ' (corrupt or truncated gzip?)' : ''}`,
        excerpt: '',
      });
    } finally {
      opened.close();
    }
  }
}

/**
 * Reads events from JSON-lines log files, gzip-compressed or not (detected by content), including
 * the original's `.study.log` lines (JSON, a tab, an ISO timestamp). A bad line (not JSON, not an
 * object, no `client`, wrong field types, NUL bytes, invalid UTF-8, over `maxLineBytes`) is counted,
 * reported to `onBadLine` with its file and line number, and skipped; it never stops the reading.
 * A file that cannot be opened throws {@link LogFileError} before the first event.
 *
 * @example
 * ```ts
 * const reader = readLogEvents(['day1.jsonl.gz', 'day2.study.log'], {
 *   onBadLine: (b) => console.warn(`${b.file}:${b.line}: ${b.reason}: ${b.message}`),
 * });
 * for await (const { event, file, line } of reader) handle(event);
 * console.log(reader.stats.events, reader.stats.badByReason);
 * ```
 */
export function readLogEvents(files: string | readonly string[], options: ReadLogOptions = {}): LogReader {
  return new LogReader(files, options);
}
