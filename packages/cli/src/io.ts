/** Where the CLI writes and what it knows about its environment (injectable for tests). */
export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Whether stderr is a terminal (then replays show a progress bar instead of periodic lines). */
  isTTY: boolean;
  /** Environment variables (`LO_CONFIG`). */
  env: Record<string, string | undefined>;
  /** Directory relative paths, `./creds.yaml` and the built-in `.lo_kvs` are resolved against. */
  cwd: string;
}

/**
 * The real process's streams, environment and working directory.
 *
 * @example
 * main(process.argv, processIO());
 */
export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stderr.isTTY),
    env: process.env,
    cwd: process.cwd(),
  };
}

/**
 * An in-memory {@link CliIO} for tests: everything written is collected in `out` and `err`.
 *
 * @example
 * const io = captureIO({ cwd: tmp });
 * await main(['kvs', 'keys'], io);
 * io.out(); // the printed keys
 */
export function captureIO(overrides: Partial<Omit<CliIO, 'stdout' | 'stderr'>> = {}): CliIO & { out(): string; err(): string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    isTTY: overrides.isTTY ?? false,
    env: overrides.env ?? {},
    cwd: overrides.cwd ?? process.cwd(),
    out: () => out,
    err: () => err,
  };
}
