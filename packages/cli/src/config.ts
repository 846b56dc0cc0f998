import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { KVSRouter } from '@learning-observer/kvs';
import type { CliIO } from './io';

/** Where the settings came from, in the order they are looked for. */
export type ConfigOrigin = '--config' | 'LO_CONFIG' | './creds.yaml' | 'built-in default';

/** The settings `lo` will use: a file path, or the built-in default (no file). */
export interface ConfigChoice {
  origin: ConfigOrigin;
  /** Absolute path of the settings file; undefined for the built-in default. */
  file?: string;
  /** Human-readable description, e.g. `/work/creds.yaml (from --config)`. */
  label: string;
}

/**
 * Name of the built-in default store directory (relative to the working directory).
 * @example
 * path.resolve(io.cwd, DEFAULT_STORE_DIR); // where the built-in default store lives
 */
export const DEFAULT_STORE_DIR = '.lo_kvs';

/**
 * Picks the settings: `--config <file>`, else the `LO_CONFIG` environment variable, else
 * `./creds.yaml` when it exists, else the built-in default (a filesystem store at `./.lo_kvs`).
 *
 * @example
 * chooseConfig(undefined, io); // { origin: 'built-in default', label: 'built-in default (filesystem store at /work/.lo_kvs)' }
 */
export function chooseConfig(option: string | undefined, io: CliIO): ConfigChoice {
  const fromFile = (origin: ConfigOrigin, file: string): ConfigChoice => {
    const abs = path.resolve(io.cwd, file);
    return { origin, file: abs, label: `${abs} (from ${origin})` };
  };
  if (option !== undefined && option !== '') return fromFile('--config', option);
  const env = io.env.LO_CONFIG;
  if (env !== undefined && env !== '') return fromFile('LO_CONFIG', env);
  const local = path.resolve(io.cwd, 'creds.yaml');
  if (existsSync(local)) return fromFile('./creds.yaml', local);
  return {
    origin: 'built-in default',
    label: `built-in default (filesystem store at ${path.resolve(io.cwd, DEFAULT_STORE_DIR)})`,
  };
}

/**
 * Builds the router for a {@link ConfigChoice}. Throws `StartupCheck` (listing every problem) for
 * an invalid file.
 *
 * @example
 * const router = openRouter(chooseConfig(opts.config, io), io);
 */
export function openRouter(choice: ConfigChoice, io: CliIO): KVSRouter {
  if (choice.file !== undefined) return KVSRouter.fromFile(choice.file);
  return new KVSRouter(
    { kvs: { default: { type: 'filesystem', path: path.resolve(io.cwd, DEFAULT_STORE_DIR) } } },
    { source: 'the built-in default settings' },
  );
}
