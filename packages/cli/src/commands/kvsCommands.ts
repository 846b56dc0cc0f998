import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { UnscopedClearError, type KVSRouter, type KVStore } from '@learning-observer/kvs';
import { CliError } from '../CliError';
import { chooseConfig, openRouter } from '../config';
import { EXIT } from '../exitCodes';
import { printJson, type CommandContext } from './context';

interface KvsFlags {
  config?: string;
  backend: string;
  json?: boolean;
  yes?: boolean;
  wholeDatabase?: boolean;
}

/** Runs `fn` with the chosen backend's store, closing the router afterwards. */
async function withStore(ctx: CommandContext, flags: KvsFlags, fn: (store: KVStore, router: KVSRouter) => Promise<void>): Promise<void> {
  const router = openRouter(chooseConfig(flags.config, ctx.io), ctx.io);
  try {
    await fn(router.get(flags.backend), router);
  } finally {
    await router.close();
  }
}

/**
 * Registers `lo kvs keys|get|dump|load|clear`.
 * @example
 * registerKvs(new Command('lo'), { io: captureIO(), exitCode: 0 });
 */
export function registerKvs(program: Command, ctx: CommandContext): void {
  const kvs = program.command('kvs').description('Inspect and edit a configured key-value store.');
  const common = (cmd: Command) =>
    cmd
      .option('-b, --backend <name>', 'backend name from the settings', 'default')
      .option('-c, --config <file>', 'settings file (default: $LO_CONFIG, else ./creds.yaml, else ./.lo_kvs)');

  common(kvs.command('keys').description('List the keys (one per line), optionally only those starting with a prefix.'))
    .argument('[prefix]', 'only keys starting with this')
    .option('--json', 'print a JSON array')
    .action(async (prefix: string | undefined, flags: KvsFlags) => {
      await withStore(ctx, flags, async (store) => {
        const keys = (await store.keys(prefix)).sort();
        if (flags.json) printJson(ctx, keys);
        else ctx.io.stdout.write(keys.map((k) => k + '\n').join(''));
      });
    });

  common(kvs.command('get').description('Print the JSON value of a key (exit 1 when the key does not exist).'))
    .argument('<key>', 'the key, e.g. "External,lo_toy_sba.reducers.student_event_counter,STUDENT:s1"')
    .option('--json', 'print the value as JSON (what get always prints; accepted like on every other command)')
    .action(async (key: string, flags: KvsFlags) => {
      await withStore(ctx, flags, async (store) => {
        const value = await store.get(key);
        if (value === undefined) {
          ctx.io.stderr.write(`lo: no key ${JSON.stringify(key)} in backend "${flags.backend}" (list them with: lo kvs keys)\n`);
          ctx.exitCode = EXIT.FAILURES;
          return;
        }
        printJson(ctx, value);
      });
    });

  common(kvs.command('dump').description('Print every key and value as one JSON object, or write it to a file.'))
    .argument('[file]', 'write the dump here instead of printing it')
    .option('--json', 'with a file: print the result as JSON (without a file the dump is JSON already)')
    .action(async (file: string | undefined, flags: KvsFlags) => {
      await withStore(ctx, flags, async (store) => {
        if (file === undefined) {
          printJson(ctx, await store.dump());
          return;
        }
        const target = path.resolve(ctx.io.cwd, file);
        const data = await store.dump(target);
        const count = Object.keys(data).length;
        if (flags.json) printJson(ctx, { backend: flags.backend, file: target, keys: count });
        else ctx.io.stdout.write(`Wrote ${count} keys from backend "${flags.backend}" to ${target}.\n`);
      });
    });

  common(kvs.command('load').description('Load a JSON object of keys and values (as written by dump) into the store.'))
    .argument('<file>', 'a JSON file written by `lo kvs dump <file>`')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, flags: KvsFlags) => {
      const source = path.resolve(ctx.io.cwd, file);
      let count: number;
      try {
        const parsed: unknown = JSON.parse(readFileSync(source, 'utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('it must hold one JSON object of key -> value');
        count = Object.keys(parsed).length;
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        const why = err.code === 'ENOENT' ? 'no such file' : err.message;
        throw new CliError(`Cannot load ${file}: ${why}.`, err.code === 'ENOENT' ? EXIT.USAGE : EXIT.FAILURES);
      }
      await withStore(ctx, flags, async (store) => {
        await store.load(source);
        if (flags.json) printJson(ctx, { backend: flags.backend, file: source, keys: count });
        else ctx.io.stdout.write(`Loaded ${count} keys from ${source} into backend "${flags.backend}".\n`);
      });
    });

  common(kvs.command('clear').description("Remove every key of the store (only this store's keys). Needs --yes."))
    .option('-y, --yes', 'really remove everything')
    .option('--whole-database', 'a Redis backend without a prefix: remove every key of its db (other programs\' keys included)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: KvsFlags) => {
      if (!flags.yes) throw new CliError(`Refusing to clear backend "${flags.backend}" without --yes (it removes every key of that store).`, EXIT.USAGE);
      await withStore(ctx, flags, async (store, router) => {
        const count = (await store.keys()).length;
        try {
          await store.clear({ wholeDatabase: flags.wholeDatabase === true });
        } catch (err) {
          if (!(err instanceof UnscopedClearError)) throw err;
          throw new CliError(
            `Refusing to clear backend "${flags.backend}": it is a ${err.type} store without a prefix, so clearing it would remove every key ` +
              `of Redis db ${err.target} (${count} keys now), other programs' keys included. Set a prefix under kvs.${flags.backend} in ` +
              `${router.settings.source} (e.g. prefix: "${flags.backend}:"), or, if that db holds only this store's keys, run again with --whole-database.`,
            EXIT.USAGE,
          );
        }
        if (flags.json) printJson(ctx, { backend: flags.backend, removed: count });
        else ctx.io.stdout.write(`Removed ${count} keys from backend "${flags.backend}".\n`);
      });
    });
}
