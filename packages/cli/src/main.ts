import { Command, CommanderError } from 'commander';
import { CliError } from './CliError';
import { errorExitCode } from './errorExitCode';
import { EXIT } from './exitCodes';
import { processIO, type CliIO } from './io';
import { registerConfig } from './commands/configCommand';
import type { CommandContext } from './commands/context';
import { registerDemo } from './commands/demoCommand';
import { registerKvs } from './commands/kvsCommands';
import { registerReplay } from './commands/replayCommand';
import { registerSample } from './commands/sampleCommand';

/** Whether `argv` is a whole `process.argv` (node binary and script first) rather than user arguments. */
function isProcessArgv(argv: readonly string[]): boolean {
  return argv.length >= 2 && (/(^|[\\/])node(\.exe)?$/i.test(argv[0]) || /[\\/]/.test(argv[0])) && /(^|[\\/])lo(\.js)?$|\.js$/.test(argv[1]);
}

/**
 * Builds the `lo` command tree (commander) writing to `io`.
 *
 * @example
 * buildProgram({ io: captureIO(), exitCode: 0 }).helpInformation();
 */
export function buildProgram(ctx: CommandContext): Command {
  const program = new Command('lo');
  program
    .description('Learning Observer reducers: replay event logs, inspect key-value stores, check settings, run the demo.')
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
    })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nSettings: --config <file>, else $LO_CONFIG, else ./creds.yaml, else a filesystem store at ./.lo_kvs.\n' +
        'Exit codes: 0 ok, 1 failures (reducer errors, missing key), 2 usage, 3 invalid settings, 4 store unavailable, 70 internal error.\n',
    );
  registerReplay(program, ctx);
  registerKvs(program, ctx);
  registerConfig(program, ctx);
  registerDemo(program, ctx);
  registerSample(program, ctx);
  return program;
}

/**
 * Runs the `lo` command line and resolves with its exit code (never calls `process.exit`).
 * `argv` is either `process.argv` (node and script first) or just the arguments
 * (`['replay', 'log.jsonl']`). Expected failures (bad arguments, invalid settings, missing files,
 * unreachable store) print one message without a stack trace; see {@link EXIT} for the codes.
 *
 * @example
 * process.exitCode = await main(process.argv);
 * await main(['config', 'check', '--config', 'creds.yaml'], captureIO());
 */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const args = isProcessArgv(argv) ? argv.slice(2) : [...argv];
  const ctx: CommandContext = { io, exitCode: EXIT.OK };
  const program = buildProgram(ctx);
  if (args.length === 0) {
    io.stderr.write(program.helpInformation());
    return EXIT.USAGE;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every parse error is a usage error (commander already printed it).
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const code = errorExitCode(err);
    if (code !== undefined) {
      const message = err instanceof Error ? err.message : String(err);
      io.stderr.write(`lo: ${message}\n`);
      return code;
    }
    io.stderr.write(`lo: internal error (please report it): ${err instanceof Error && err.stack ? err.stack : String(err)}\n`);
    return EXIT.INTERNAL;
  }
}

export { CliError };
