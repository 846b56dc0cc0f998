/**
 * Google Docs command types that do not change the text: formatting (`as`), suggestions,
 * autospell, tab titles (`ac`, `mkch`, `ucp`), `null` and others the original lists as no-ops.
 *
 * @example
 * ```ts
 * NO_OP_COMMAND_TYPES.has('as'); // true
 * ```
 */
export const NO_OP_COMMAND_TYPES: ReadonlySet<string> = new Set([
  'as', 'ac', 'ae', 'ase', 'ast', 'astss', 'ue', 'de', 'dse', 'dss', 'te', 'iss', 'mefd', 'mkch',
  'msfd', 'null', 'ord', 'ras', 'rte', 'rue', 'sas', 'sl', 'ste', 'sue', 'ucp', 'uefd', 'use', 'umv',
  'usfd',
]);

/**
 * Command types that edit the text: insert, delete, batch, snapshot replace / revert, and
 * tab-targeted (named) commands.
 *
 * @example
 * ```ts
 * TEXT_COMMAND_TYPES.has('is'); // true
 * ```
 */
export const TEXT_COMMAND_TYPES: ReadonlySet<string> = new Set(['is', 'ds', 'mlti', 'rplc', 'rvrt', 'nm']);
