import type { DispatchKind } from './nodes';
import { isPlainObject } from './paths';

/**
 * An error that happened while a query ran, returned as a value in place of a node's output or of
 * one item of a list (as the original protocol does), so one bad row does not sink a dashboard.
 * Plain JSON, so it travels to the browser as is.
 */
export interface QueryErrorValue {
  /** What went wrong. */
  error: string;
  /** The node where it happened. */
  node: string;
  /** The node kind (`call`, `select`, ...). */
  dispatch: DispatchKind;
  /** Extra facts: the function, the field, the key... */
  details?: Record<string, unknown>;
  /** On a list item: where the item came from (key, student, input value). */
  provenance?: unknown;
}

/**
 * Builds a {@link QueryErrorValue}.
 *
 * @example
 * ```ts
 * queryErrorValue('roster', 'call', 'Function `roster` threw: timeout', { function: 'roster' });
 * ```
 */
export function queryErrorValue(
  node: string,
  dispatch: DispatchKind,
  error: string,
  details?: Record<string, unknown>,
  provenance?: unknown,
): QueryErrorValue {
  const value: QueryErrorValue = { error, node, dispatch };
  if (details !== undefined) value.details = details;
  if (provenance !== undefined) value.provenance = provenance;
  return value;
}

/**
 * Whether `value` is a {@link QueryErrorValue} (a node output or a list item that failed).
 *
 * @example
 * ```ts
 * const rows = (await execute('counts', { exports: ['counts'], parameters })).counts as unknown[];
 * const failed = rows.filter(isQueryErrorValue);
 * ```
 */
export function isQueryErrorValue(value: unknown): value is QueryErrorValue {
  return (
    isPlainObject(value) &&
    typeof value.error === 'string' &&
    typeof value.node === 'string' &&
    typeof value.dispatch === 'string'
  );
}

/**
 * The message of a thrown value.
 *
 * @example
 * ```ts
 * messageOf(new Error('boom')); // 'boom'
 * messageOf('plain');           // 'plain'
 * ```
 */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : String(err);
}
