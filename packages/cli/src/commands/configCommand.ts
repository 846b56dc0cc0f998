import type { Command } from 'commander';
import { StartupCheck, type KVSRouter } from '@learning-observer/kvs';
import { chooseConfig, openRouter } from '../config';
import { EXIT } from '../exitCodes';
import { renderTable } from '../format';
import { printJson, type CommandContext } from './context';

/**
 * The warning printed when the default backend loses its data on restart.
 * @example
 * volatileDefaultWarning('stub'); // 'the default backend is "stub", which is volatile: ...'
 */
export function volatileDefaultWarning(type: string): string {
  return (
    `the default backend is "${type}", which is volatile: its state starts empty after every restart, ` +
    'so reducers start over from their null state. Use "filesystem" or "redis" for state that must survive.'
  );
}

function backendDetail(config: Record<string, unknown>): string {
  return Object.entries(config)
    .filter(([k]) => k !== 'name' && k !== 'type')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/**
 * Registers `lo config check`.
 * @example
 * registerConfig(new Command('lo'), { io: captureIO(), exitCode: 0 });
 */
export function registerConfig(program: Command, ctx: CommandContext): void {
  const config = program.command('config').description('Settings (creds.yaml) tools.');
  config
    .command('check')
    .description('Validate the settings: list every problem (exit 3), or each backend name -> type and class.')
    .option('-c, --config <file>', 'settings file (default: $LO_CONFIG, else ./creds.yaml, else the built-in default)')
    .option('--json', 'print the report as JSON')
    .action((flags: { config?: string; json?: boolean }) => {
      const choice = chooseConfig(flags.config, ctx.io);
      let router: KVSRouter;
      try {
        router = openRouter(choice, ctx.io);
      } catch (err) {
        if (!(err instanceof StartupCheck)) throw err;
        ctx.exitCode = EXIT.CONFIG;
        if (flags.json) {
          printJson(ctx, { ok: false, settings: choice.label, issues: err.issues.map((i) => ({ ...i })) });
        } else {
          ctx.io.stdout.write(`Settings: ${choice.label}\n${err.message}\n`);
        }
        return;
      }
      const backends = router.describe().map((b) => ({ name: b.name, type: b.type, className: b.className, volatile: b.volatile, config: b.config }));
      const warnings = router.warnings.map((w) => `${w.path}: ${w.message}`);
      const def = backends.find((b) => b.name === 'default');
      if (def?.volatile) warnings.push(`kvs.default: ${volatileDefaultWarning(def.type)}`);
      void router.close();
      if (flags.json) {
        printJson(ctx, {
          ok: true,
          settings: choice.label,
          backends: backends.map((b) => ({ name: b.name, type: b.type, className: b.className, volatile: b.volatile })),
          warnings,
        });
        return;
      }
      const rows = backends.map((b) => [b.name, b.type, b.className, b.volatile ? 'yes' : 'no', backendDetail(b.config)]);
      ctx.io.stdout.write(`Settings: ${choice.label}\n\n` + renderTable(['Backend', 'Type', 'Class', 'Volatile', 'Settings'], rows, undefined, ['left', 'left', 'left', 'left', 'left']));
      for (const w of warnings) ctx.io.stdout.write(`\nWarning: ${w}\n`);
      ctx.io.stdout.write(`\nSettings are valid (${backends.length} backend${backends.length === 1 ? '' : 's'}).\n`);
    });
}
