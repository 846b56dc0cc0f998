/**
 * Exit codes of `lo` (also in packages/cli/README.md).
 *
 * @example
 * process.exitCode = await main(process.argv); // one of EXIT's values
 */
export const EXIT = Object.freeze({
  /** Success (skipped bad log lines alone do not fail a replay; they are listed in the summary). */
  OK: 0,
  /** The command ran but something failed: reducer errors during a replay, a missing key for `kvs get`, a store operation that failed. */
  FAILURES: 1,
  /** Bad command line: unknown command or option, missing argument, input file not found, unknown backend, module or reducer name. */
  USAGE: 2,
  /** The settings file is invalid (every problem is listed). */
  CONFIG: 3,
  /** A store could not be reached or created (Redis down, unwritable directory). */
  STORE_UNAVAILABLE: 4,
  /** An unexpected internal error (a bug): printed with its stack trace. */
  INTERNAL: 70,
});
