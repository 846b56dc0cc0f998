import * as path from 'node:path';
import type { Command } from 'commander';
import { SAMPLE_DEFAULTS, sampleLogPath, writeSampleLog } from '@learning-observer/examples';
import { CliError } from '../CliError';
import { EXIT } from '../exitCodes';
import { formatBytes, formatCount } from '../format';
import { printJson, type CommandContext } from './context';

function wholeNumber(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new CliError(`${name} must be a whole number >= ${min}, got ${JSON.stringify(value)}.`, EXIT.USAGE);
    return n;
  };
}

/**
 * Registers `lo sample [file]`.
 * @example
 * registerSample(new Command('lo'), { io: captureIO(), exitCode: 0 });
 */
export function registerSample(program: Command, ctx: CommandContext): void {
  program
    .command('sample')
    .description('Generate a seeded, realistic writing-observer log (same options and seed: same bytes).')
    .argument('[file]', 'output file; gzip when it ends in .gz (default: the bundled examples/data/sample.jsonl.gz)')
    .option('--students <n>', 'number of students', wholeNumber('--students', 1), SAMPLE_DEFAULTS.students)
    .option('--docs <n>', 'Google Docs per student', wholeNumber('--docs', 1), SAMPLE_DEFAULTS.docsPerStudent)
    .option('--events <n>', 'events per student', wholeNumber('--events', 0), SAMPLE_DEFAULTS.eventsPerStudent)
    .option('--total-events <n>', 'total events, spread over the students (overrides --events)', wholeNumber('--total-events', 0))
    .option('--seed <n>', 'random seed', wholeNumber('--seed', 0), SAMPLE_DEFAULTS.seed)
    .option('--start-time <seconds>', 'start of the session, epoch seconds', wholeNumber('--start-time', 0), SAMPLE_DEFAULTS.startTime)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nWith no options, `lo sample` regenerates the bundled sample log byte for byte.\n\nExample:\n  lo sample big.jsonl.gz --students 1000 --total-events 1000000\n')
    .action(
      async (
        file: string | undefined,
        flags: { students: number; docs: number; events: number; totalEvents?: number; seed: number; startTime: number; json?: boolean },
      ) => {
        const target = file === undefined ? sampleLogPath() : path.resolve(ctx.io.cwd, file);
        const result = await writeSampleLog(target, {
          students: flags.students,
          docsPerStudent: flags.docs,
          eventsPerStudent: flags.events,
          totalEvents: flags.totalEvents,
          seed: flags.seed,
          startTime: flags.startTime,
        });
        if (flags.json) printJson(ctx, result);
        else ctx.io.stdout.write(`Wrote ${formatCount(result.events)} events (${formatBytes(result.bytes)} of JSON lines) to ${result.path}.\n`);
      },
    );
}
