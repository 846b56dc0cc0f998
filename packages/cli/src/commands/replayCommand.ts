import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { EXAMPLE_MODULES, exampleModules } from '@learning-observer/examples';
import { CliError } from '../CliError';
import { chooseConfig, openRouter } from '../config';
import { EXIT } from '../exitCodes';
import { parseSequencePath, replayLogs } from '../replayLogs';
import { replaySummaryText } from '../replaySummaryText';
import { printJson, type CommandContext } from './context';

/**
 * Parses `--modules a,b --modules c` into names; undefined means every example module.
 * @example
 * parseModuleNames(['writing_observer,toy_counter', 'action_summary']); // ['writing_observer', 'toy_counter', 'action_summary']
 */
export function parseModuleNames(values: string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  return names.length > 0 ? names : undefined;
}

/**
 * Checks the input files exist before anything is built (a typo fails fast, exit 2).
 * @example
 * checkInputFiles(['logs/day1.jsonl'], '/work'); // ['/work/logs/day1.jsonl'], or CliError (exit 2)
 */
export function checkInputFiles(files: string[], cwd: string): string[] {
  return files.map((f) => {
    const abs = path.resolve(cwd, f);
    if (!existsSync(abs)) throw new CliError(`Input file not found: ${f}`, EXIT.USAGE);
    if (!statSync(abs).isFile()) throw new CliError(`Input is not a file: ${f}`, EXIT.USAGE);
    return abs;
  });
}

/**
 * A positive integer option value.
 * @example
 * program.option('--concurrency <n>', 'tasks in flight', positiveInt('--concurrency'));
 */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} must be a positive whole number, got ${JSON.stringify(value)}.`, EXIT.USAGE);
    return n;
  };
}

/**
 * A whole-number option value >= 0.
 * @example
 * program.option('--retry <n>', 'retries', nonNegativeInt('--retry'));
 */
export function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new CliError(`${name} must be a whole number >= 0, got ${JSON.stringify(value)}.`, EXIT.USAGE);
    return n;
  };
}

interface ReplayFlags {
  config?: string;
  modules?: string[];
  reducers?: string[];
  json?: boolean;
  progress: boolean;
  concurrency?: number;
  batchSize?: number;
  resume?: boolean;
  sequencePath?: string;
  retry?: number;
  retryDelay?: number;
}

/**
 * Registers `lo replay <files...>`.
 * @example
 * registerReplay(new Command('lo'), { io: captureIO(), exitCode: 0 });
 */
export function registerReplay(program: Command, ctx: CommandContext): void {
  program
    .command('replay')
    .description('Stream event logs (JSON lines, gzip, .study.log) through the example reducers into the configured store.')
    .argument('<files...>', 'log files to replay, in order (gzip is detected from the content)')
    .option('-c, --config <file>', 'settings file (default: $LO_CONFIG, else ./creds.yaml, else a filesystem store at ./.lo_kvs)')
    .option(
      '-m, --modules <names>',
      `example modules to run, comma-separated or repeated (default: all): ${EXAMPLE_MODULES.map((m) => m.name).join(', ')}`,
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      '-r, --reducers <ids>',
      'run only these reducers of the chosen modules, comma-separated or repeated: reducer ids ' +
        '(writing_observer.writing_analysis.time_on_task) or module names (default: every reducer)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--concurrency <n>', 'reducer tasks in flight at most (bounds memory; default 256 on Redis, else 32)', positiveInt('--concurrency'))
    .option(
      '--batch-size <n>',
      'batched mode: apply n events at a time, reading and writing each key once per batch (much faster on the ' +
        'filesystem store; same final state; use only when this is the one process writing these keys)',
      positiveInt('--batch-size'),
    )
    .option(
      '--resume',
      'resumable replay: store each event\'s position with the states it changes and skip events a key already has, ' +
        'so a replay interrupted (killed, crashed) and started again with the same files counts nothing twice ' +
        '(changes the internal state format: use a store written only by resumable replays)',
    )
    .option(
      '--sequence-path <path>',
      'resumable replay (implies --resume) whose positions are read from a numeric field of each event, e.g. ' +
        'server.seq, instead of the line\'s ordinal in the input files: for events that carry their own global ' +
        'position, and for several processes replaying overlapping shards of one log into one store ' +
        '(an event without a whole number >= 0 there is not applied and is reported; exit 1)',
      (value: string) => {
        try {
          parseSequencePath(value);
        } catch (err) {
          throw new CliError(`--sequence-path: ${(err as Error).message}`, EXIT.USAGE);
        }
        return value;
      },
    )
    .option('--retry <n>', 'when the store is unavailable, retry each operation up to n times before failing (default 0)', nonNegativeInt('--retry'))
    .option('--retry-delay <ms>', 'wait between retries, in milliseconds (default 1000)', positiveInt('--retry-delay'))
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress bar or periodic progress lines')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok (skipped bad lines are listed, not fatal), 1 reducer errors or events without a --sequence-path position, 2 usage or missing file,\n' +
        '3 invalid settings, 4 store unavailable.\n\nExample:\n  lo replay logs/day1.jsonl.gz logs/day2.study.log --modules writing_observer\n',
    )
    .action(async (files: string[], flags: ReplayFlags) => {
      const inputs = checkInputFiles(files, ctx.io.cwd);
      const names = parseModuleNames(flags.modules);
      const modules = exampleModules({}, names);
      const router = openRouter(chooseConfig(flags.config, ctx.io), ctx.io);
      try {
        const summary = await replayLogs(ctx.io, {
          files: inputs,
          router,
          modules,
          moduleNames: names ?? EXAMPLE_MODULES.map((m) => m.name),
          reducers: parseModuleNames(flags.reducers),
          concurrency: flags.concurrency,
          batchSize: flags.batchSize,
          resume: flags.resume === true,
          sequencePath: flags.sequencePath,
          retry: flags.retry ? { attempts: flags.retry, delayMs: flags.retryDelay ?? 1000 } : undefined,
          progress: flags.progress ? undefined : 'none',
        });
        if (flags.json) printJson(ctx, summary);
        else ctx.io.stdout.write(replaySummaryText(summary));
        ctx.exitCode = summary.reducerErrors.total > 0 || summary.badSequence.total > 0 ? EXIT.FAILURES : EXIT.OK;
      } finally {
        await router.close();
      }
    });
}
