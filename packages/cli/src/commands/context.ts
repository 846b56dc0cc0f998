import type { CliIO } from '../io';

/** What every command handler receives; `exitCode` is what `main` returns. */
export interface CommandContext {
  io: CliIO;
  exitCode: number;
}

/**
 * Writes `value` as indented JSON and a newline to stdout.
 * @example
 * printJson(ctx, { ok: true }); // '{\n  "ok": true\n}\n'
 */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
