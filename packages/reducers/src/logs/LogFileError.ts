import { ReducerFrameworkError } from '../errors';

/**
 * A log file could not be opened (missing, a directory, no permission). Bad content inside a file
 * is never thrown: it is reported line by line through `onBadLine`.
 *
 * @example
 * ```ts
 * try { for await (const r of readLogEvents(['missing.jsonl'])) void r; }
 * catch (e) { if (e instanceof LogFileError) console.error(e.message); }
 * ```
 */
export class LogFileError extends ReducerFrameworkError {
  constructor(
    readonly file: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot read log file ${JSON.stringify(file)}: ${reason}. Check the path and its permissions.`, options);
  }
}
