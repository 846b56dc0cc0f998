import { isQueryErrorValue, messageOf, queryErrorValue } from '../errorValue';
import type { MapNode } from '../nodes';
import { getPath, isPlainObject } from '../paths';
import type { HandlerContext } from './context';
import { provenanceOf, withoutProvenance } from './provenance';

/**
 * Runs a `map` node: the published function on each item (or on the value at `valuePath`), with
 * `funcKwargs` as second argument when given. One output row per input item, in input order, also
 * when items run in parallel: an object result gets `provenance` added, any other result is
 * wrapped as `{ output, provenance }`, and an item whose call throws (or lacks `valuePath`)
 * becomes an error value carrying the same provenance.
 */
export async function handleMap(node: MapNode, ctx: HandlerContext): Promise<unknown> {
  if (!Array.isArray(node.values)) {
    return queryErrorValue(ctx.name, 'map', `map needs a list of values; got ${typeof node.values}.`, { function: node.function });
  }
  const fn = ctx.fn(node.function);
  const values = node.values as unknown[];
  const results = new Array<unknown>(values.length);

  const runOne = async (i: number): Promise<void> => {
    const item = values[i];
    if (isQueryErrorValue(item)) {
      results[i] = item;
      return;
    }
    const provenance: Record<string, unknown> = { function: node.function, value: withoutProvenance(item), provenance: provenanceOf(item) };
    if (node.funcKwargs !== undefined) provenance.funcKwargs = node.funcKwargs;
    if (node.valuePath !== undefined) provenance.valuePath = node.valuePath;
    const arg = getPath(item, node.valuePath);
    if (!arg.found) {
      results[i] = queryErrorValue(ctx.name, 'map', `Item ${i} has no value at ${JSON.stringify(arg.missing)}.`, { function: node.function, index: i }, provenance);
      return;
    }
    try {
      const result = await (node.funcKwargs === undefined ? fn(arg.value) : fn(arg.value, node.funcKwargs));
      results[i] = isPlainObject(result) ? { ...result, provenance } : { output: result, provenance };
    } catch (err) {
      results[i] = queryErrorValue(
        ctx.name,
        'map',
        `Function ${JSON.stringify(node.function)} threw on item ${i}: ${messageOf(err)}`,
        { function: node.function, index: i },
        provenance,
      );
    }
  };

  const limit = node.parallel === true ? values.length : node.parallel === false ? 1 : node.parallel;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < values.length) await runOne(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, values.length)) }, worker));
  return results;
}
