import { MalformedCommandError } from '../errors';
import { NO_OP_COMMAND_TYPES } from './commandTypes';
import type { GoogleDoc } from './GoogleDoc';

/** Options of {@link applyCommand}. */
export interface ApplyCommandOptions {
  /** Called once per command of an unknown type (the command is then ignored). */
  onUnknownType?: (type: string, command: Record<string, unknown>) => void;
  /**
   * Largest index (UTF-16 units) a command may address. A bigger one is treated as malformed
   * rather than padded, so one corrupt index cannot allocate gigabytes. Default 2,000,000
   * (Google Docs caps documents near 1.02 million characters).
   */
  maxIndex?: number;
}

/**
 * Default of {@link ApplyCommandOptions.maxIndex}.
 *
 * @example
 * ```ts
 * applyCommand(doc, command, { maxIndex: DEFAULT_MAX_INDEX * 2 });
 * ```
 */
export const DEFAULT_MAX_INDEX = 2_000_000;

type Command = Record<string, unknown>;

function isObject(value: unknown): value is Command {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function index(command: Command, field: string, min: number, maxIndex: number): number {
  const value = command[field];
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new MalformedCommandError(command, `\`${field}\` must be an integer, got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  if (value < min) throw new MalformedCommandError(command, `\`${field}\` must be at least ${min}, got ${value}`);
  if (value > maxIndex) throw new MalformedCommandError(command, `\`${field}\`=${value} is beyond the limit of ${maxIndex}`);
  return value;
}

function text(command: Command, field: string): string {
  const value = command[field];
  if (typeof value !== 'string') {
    throw new MalformedCommandError(command, `\`${field}\` must be a string, got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}

function list(command: Command, field: string): unknown[] {
  const value = command[field];
  if (!Array.isArray(value)) {
    throw new MalformedCommandError(command, `\`${field}\` must be a list, got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}

/**
 * Applies one Google Docs save command to `doc` (mutating it), the original's way:
 * - `is` inserts `s` at 1-based `ibi`; `ds` deletes the inclusive range `si..ei`;
 * - `mlti` applies its `mts` list in order; `nm` applies `nmc` to the tab named by the last
 *   `t.`-prefixed string in `nmr` (or to the main document when there is none);
 * - `rplc` / `rvrt` splice each `is` entry of `snapshot` (`sl` units at `ibi` become `s`);
 * - formatting and other known no-op types change nothing; an unknown type is reported through
 *   `onUnknownType` and ignored;
 * - an index past the end pads the gap with `\u0000` placeholders.
 * Indices count UTF-16 code units, as Google Docs does. A command with missing or ill-typed
 * fields throws {@link MalformedCommandError}; the caller decides what that fails (the reducer
 * fails the whole event and writes nothing).
 *
 * @example
 * ```ts
 * const doc = GoogleDoc.fromJson(null);
 * applyCommand(doc, { ty: 'is', ibi: 1, s: 'Hello' });
 * applyCommand(doc, { ty: 'ds', si: 1, ei: 1 });
 * doc.text; // 'ello'
 * ```
 */
export function applyCommand(doc: GoogleDoc, command: unknown, options: ApplyCommandOptions = {}): void {
  const maxIndex = options.maxIndex ?? DEFAULT_MAX_INDEX;
  if (!isObject(command)) throw new MalformedCommandError(command, 'a command must be an object');
  const type = command.ty;
  if (typeof type !== 'string') throw new MalformedCommandError(command, '`ty` must be a string');
  switch (type) {
    case 'is':
      doc.insert(index(command, 'ibi', 1, maxIndex), text(command, 's'));
      return;
    case 'ds': {
      const si = index(command, 'si', 1, maxIndex);
      doc.delete(si, index(command, 'ei', si - 1, maxIndex));
      return;
    }
    case 'mlti':
      for (const sub of list(command, 'mts')) applyCommand(doc, sub, options);
      return;
    case 'rplc':
    case 'rvrt':
      for (const entry of list(command, 'snapshot')) {
        if (!isObject(entry) || entry.ty !== 'is') continue;
        const ibi = index(entry, 'ibi', 1, maxIndex);
        const s = text(entry, 's');
        const sl = entry.sl === undefined ? s.length : index(entry, 'sl', 0, maxIndex);
        doc.splice(ibi, s, sl);
      }
      return;
    case 'nm': {
      const refs = command.nmr === undefined || command.nmr === null ? [] : list(command, 'nmr');
      if (!isObject(command.nmc)) throw new MalformedCommandError(command, '`nmc` must be a command object');
      let target: string | undefined;
      for (let i = refs.length - 1; i >= 0 && target === undefined; i -= 1) {
        const ref = refs[i];
        if (typeof ref === 'string' && ref.startsWith('t.')) target = ref;
      }
      applyCommand(target === undefined ? doc : doc.tab(target), command.nmc, options);
      return;
    }
    default:
      if (!NO_OP_COMMAND_TYPES.has(type)) options.onUnknownType?.(type, command);
  }
}

/**
 * Applies commands in order (see {@link applyCommand}).
 *
 * @example
 * ```ts
 * applyCommands(doc, [{ ty: 'is', ibi: 1, s: 'a' }, { ty: 'is', ibi: 2, s: 'b' }]);
 * ```
 */
export function applyCommands(doc: GoogleDoc, commands: readonly unknown[], options: ApplyCommandOptions = {}): void {
  for (const command of commands) applyCommand(doc, command, options);
}
