import type { Command } from 'commander';
import { exampleModules, sampleLogPath } from '@learning-observer/examples';
import { ReducerRegistry } from '@learning-observer/reducers';
import { chooseConfig, openRouter } from '../config';
import { EXIT } from '../exitCodes';
import { formatCount, formatDuration, renderTable } from '../format';
import { replayLogs } from '../replayLogs';
import { readStudentTable, type StudentRow } from '../studentTable';
import { printJson, type CommandContext } from './context';
import { checkInputFiles, positiveInt } from './replayCommand';

const DEMO_MODULES = ['writing_observer'];

/**
 * Events per batch when the demo replays into a filesystem store: each key is then read and
 * written once per batch instead of once per event (one file lock and fsync per write), which
 * makes the demo several times faster with the same final state. Other stores replay per event.
 */
export const DEMO_FILESYSTEM_BATCH_SIZE = 500;

/** Removes every key of the demo's reducers from the default store; returns how many. */
async function clearDemoKeys(router: ReturnType<typeof openRouter>, registry: ReducerRegistry): Promise<number> {
  const store = router.get('default');
  let removed = 0;
  for (const def of registry.definitions()) {
    for (const type of ['Internal', 'External']) {
      for (const key of await store.keys(`${type},${def.id},`)) {
        await store.remove(key);
        removed++;
      }
    }
  }
  return removed;
}

/**
 * The demo table as text (times as m:ss, plus a total row).
 * @example
 * io.stdout.write(studentTableText(await readStudentTable(router, registry)));
 */
export function studentTableText(rows: StudentRow[]): string {
  const body = rows.map((r) => [r.student, String(r.documents), formatCount(r.events), formatDuration(r.timeOnTaskSeconds), formatCount(r.words)]);
  const sum = (f: (r: StudentRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  const footer = [
    `Total (${rows.length} students)`,
    String(sum((r) => r.documents)),
    formatCount(sum((r) => r.events)),
    formatDuration(sum((r) => r.timeOnTaskSeconds)),
    formatCount(sum((r) => r.words)),
  ];
  return renderTable(['Student', 'Docs', 'Events', 'Time on task', 'Words'], body, footer);
}

/**
 * Registers `lo demo`.
 * @example
 * registerDemo(new Command('lo'), { io: captureIO(), exitCode: 0 });
 */
export function registerDemo(program: Command, ctx: CommandContext): void {
  program
    .command('demo')
    .description(
      'Replay the bundled sample log (8 students writing in Google Docs) through the writing-observer reducers, ' +
        'then print a per-student table read back through the query helpers.',
    )
    .option('-c, --config <file>', 'settings file (default: $LO_CONFIG, else ./creds.yaml, else a filesystem store at ./.lo_kvs)')
    .option('--log <file>', 'replay this log instead of the bundled sample (e.g. one written by `lo sample`)')
    .option('--batch-size <n>', `events per batch (default: ${DEMO_FILESYSTEM_BATCH_SIZE} on a filesystem store, else one transaction per event)`, positiveInt('--batch-size'))
    .option('--json', 'print the replay summary and the table as JSON')
    .option('--no-progress', 'no progress bar or periodic progress lines')
    .addHelpText(
      'after',
      "\nBefore replaying, the demo removes the writing-observer reducers' keys from the default store (and only those),\n" +
        'so every run starts from the same empty state and prints the same numbers. No Redis needed.\n',
    )
    .action(async (flags: { config?: string; log?: string; batchSize?: number; json?: boolean; progress: boolean }) => {
      const file = flags.log === undefined ? sampleLogPath() : checkInputFiles([flags.log], ctx.io.cwd)[0];
      const choice = chooseConfig(flags.config, ctx.io);
      const router = openRouter(choice, ctx.io);
      try {
        const modules = exampleModules({}, DEMO_MODULES);
        const registry = new ReducerRegistry();
        registry.registerAll(modules);
        const removed = await clearDemoKeys(router, registry);
        if (!flags.json) {
          ctx.io.stdout.write(
            `Store: ${choice.label}\n` +
              `Cleared ${formatCount(removed)} keys of the demo reducers first, so reruns give the same numbers.\n` +
              `Replaying ${file} ...\n`,
          );
        }
        const summary = await replayLogs(ctx.io, {
          files: [file],
          router,
          modules,
          moduleNames: DEMO_MODULES,
          batchSize: flags.batchSize ?? (router.typeOf('default') === 'filesystem' ? DEMO_FILESYSTEM_BATCH_SIZE : undefined),
          progress: flags.progress ? undefined : 'none',
        });
        const rows = await readStudentTable(router, registry);
        ctx.exitCode = summary.reducerErrors.total > 0 ? EXIT.FAILURES : EXIT.OK;
        if (flags.json) {
          printJson(ctx, {
            settings: choice.label,
            cleared: removed,
            replay: summary,
            students: rows.map((r) => ({ ...r, timeOnTaskSeconds: Math.round(r.timeOnTaskSeconds * 1000) / 1000 })),
          });
          return;
        }
        ctx.io.stdout.write(
          `Replayed ${formatCount(summary.events)} events in ${summary.elapsedSeconds.toFixed(1)} s; ` +
            `${formatCount(summary.keysWritten)} keys written, ${summary.skipped.total} lines skipped, ` +
            `${summary.reducerErrors.total} reducer errors.\n\n` +
            'Per student, read back with studentReducerQuery (document lists) and readStates (per document):\n\n' +
            studentTableText(rows) +
            '\nEvents: event_count summed over the documents; time on task: time_on_task (idle gaps count at most 60 s)' +
            ' summed over the documents, m:ss; words: in the reconstructed text of each document, summed.\n' +
            'Inspect the state with: lo kvs keys   (or: lo kvs get "<key>")\n',
        );
      } finally {
        await router.close();
      }
    });
}
