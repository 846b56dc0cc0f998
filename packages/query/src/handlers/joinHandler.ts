import { isQueryErrorValue, queryErrorValue } from '../errorValue';
import type { JoinNode } from '../nodes';
import { getPathSegments, isPlainObject, pathSegments } from '../paths';
import type { HandlerContext } from './context';

/**
 * The rows of one side of a join by their join value, where equal JSON means equal (so 1 and "1"
 * differ). String values, the usual ids, are looked up as they are: no new string to build and
 * hash per row. Other values are keyed by their JSON.
 */
class JoinIndex {
  private readonly byString = new Map<string, Record<string, unknown>>();
  private readonly byJson = new Map<string, Record<string, unknown>>();

  set(value: unknown, row: Record<string, unknown>): void {
    if (typeof value === 'string') {
      this.byString.set(value, row);
      return;
    }
    const json = jsonOf(value);
    if (json !== undefined) this.byJson.set(json, row);
  }

  get(value: unknown): Record<string, unknown> | undefined {
    if (typeof value === 'string') return this.byString.get(value);
    if (this.byJson.size === 0) return undefined;
    const json = jsonOf(value);
    return json === undefined ? undefined : this.byJson.get(json);
  }
}

/** `JSON.stringify(value)`, or `undefined` for a value it cannot write (a cycle, a BigInt). */
function jsonOf(value: unknown): string | undefined {
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
  const leftOn = pathSegments(node.leftOn);
  const rightOn = pathSegments(node.rightOn);
  const index = new JoinIndex();
  for (const row of node.right as unknown[]) {
    if (!isPlainObject(row) || isQueryErrorValue(row)) continue;
    const found = getPathSegments(row, rightOn);
    if (found.found) index.set(found.value, row); // a later duplicate replaces an earlier one
  }
  return (node.left as unknown[]).map((row) => {
    if (!isPlainObject(row) || isQueryErrorValue(row)) return row;
    const found = getPathSegments(row, leftOn);
    if (!found.found) return row;
    const match = index.get(found.value);
    return match ? merge(row, match) : row;
  });
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * `{ ...left, ...right }`. Object.assign is about 20 times faster here than a double spread, but
 * it assigns, so a row holding its own `__proto__` key (JSON.parse makes those) takes the spread.
 */
function merge(left: Record<string, unknown>, right: Record<string, unknown>): Record<string, unknown> {
  if (hasOwn.call(left, '__proto__') || hasOwn.call(right, '__proto__')) return { ...left, ...right };
  return Object.assign({}, left, right);
}
