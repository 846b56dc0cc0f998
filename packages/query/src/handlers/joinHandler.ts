import { isQueryErrorValue, queryErrorValue } from '../errorValue';
import type { JoinNode } from '../nodes';
import { getPath, isPlainObject } from '../paths';
import type { HandlerContext } from './context';

/** A map key for a join value: equal JSON means equal (so 1 and "1" differ). */
function joinKey(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/**
 * Runs a `join` node: each left row merged with the right row whose `rightOn` value equals the
 * row's `leftOn` value (right fields win on a clash). When several right rows share a value, the
 * LAST one is used, as in the original (`right_dict[value] = d` overwrites). Left rows without a
 * match or without `leftOn` are kept as they are; right rows without `rightOn` are ignored.
 */
export async function handleJoin(node: JoinNode, ctx: HandlerContext): Promise<unknown> {
  for (const side of ['left', 'right'] as const) {
    if (!Array.isArray(node[side])) {
      return queryErrorValue(ctx.name, 'join', `The ${side} input of a join must be a list of rows; got ${typeof node[side]}.`);
    }
  }
  const index = new Map<string, Record<string, unknown>>();
  for (const row of node.right as unknown[]) {
    if (!isPlainObject(row) || isQueryErrorValue(row)) continue;
    const found = getPath(row, node.rightOn);
    if (!found.found) continue;
    const key = joinKey(found.value);
    if (key !== undefined) index.set(key, row); // a later duplicate replaces an earlier one
  }
  return (node.left as unknown[]).map((row) => {
    if (!isPlainObject(row) || isQueryErrorValue(row)) return row;
    const found = getPath(row, node.leftOn);
    if (!found.found) return row;
    const key = joinKey(found.value);
    const match = key === undefined ? undefined : index.get(key);
    return match ? { ...row, ...match } : row;
  });
}
