/**
 * An expected failure of a command: printed as `lo: <message>` (no stack trace) and turned into
 * the given exit code.
 *
 * @example
 * throw new CliError('Refusing to clear backend "default" without --yes.', EXIT.USAGE);
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
