import { cloneJson, type JsonValue } from '@learning-observer/kvs';
import { isQueryErrorValue, messageOf, queryErrorValue } from '../errorValue';
import type { SelectNode } from '../nodes';
import { getPath, isPlainObject } from '../paths';
import type { HandlerContext } from './context';

interface KeyRef {
  key: string;
  backend?: string;
  default?: JsonValue;
  provenance: unknown;
}

/**
 * Runs a `select` node: reads every key with one `multiget` per store (so a class of 1,000
 * students on Redis is one MGET, not 1,000 GETs), uses the key's default when nothing is stored,
 * and keeps the chosen fields. Rows are `{ ...fields, provenance: { key, provenance } }` in input
 * order. A chosen field the state lacks is an error value in that field; an input item that is not
 * a key is an error value in its row; a failing store makes the node an error value.
 */
export async function handleSelect(node: SelectNode, ctx: HandlerContext): Promise<unknown> {
  const input = node.keys;
  if (!Array.isArray(input)) {
    return queryErrorValue(ctx.name, 'select', `select needs a list of keys (e.g. the output of a keys node); got ${typeof input}.`);
  }
  const rows = new Array<unknown>(input.length);
  const refs = new Array<KeyRef | undefined>(input.length);
  const groups = new Map<string | undefined, number[]>();
  input.forEach((item, i) => {
    const ref = toKeyRef(item);
    if (ref === undefined) {
      rows[i] = isQueryErrorValue(item)
        ? item
        : queryErrorValue(ctx.name, 'select', `Item ${i} is not a key: expected a string or { key: string, ... } (the output of a keys node).`, { index: i });
      return;
    }
    refs[i] = ref;
    const group = groups.get(ref.backend);
    if (group) group.push(i);
    else groups.set(ref.backend, [i]);
  });

  const values = new Array<JsonValue | undefined>(input.length);
  try {
    await Promise.all(
      [...groups].map(async ([backend, indices]) => {
        const got = await ctx.store(backend).multiget(indices.map((i) => refs[i]!.key));
        indices.forEach((i, j) => (values[i] = got[j]));
      }),
    );
  } catch (err) {
    return queryErrorValue(ctx.name, 'select', `Reading the state failed: ${messageOf(err)}`);
  }

  refs.forEach((ref, i) => {
    if (ref === undefined) return;
    const stored = values[i];
    const state = stored !== undefined ? stored : cloneJson(ref.default);
    const row: Record<string, unknown> = {};
    if (node.fields === 'all') {
      if (isPlainObject(state)) {
        for (const [k, v] of Object.entries(state)) if (k !== 'provenance') row[k] = v;
      } else if (state !== undefined) {
        row.value = state;
      }
    } else {
      const wanted: [string, string][] = Array.isArray(node.fields)
        ? (node.fields as string[]).map((p) => [p, p])
        : Object.entries(node.fields as Record<string, string>);
      for (const [path, outName] of wanted) {
        const found = getPath(state, path);
        row[outName] = found.found
          ? found.value
          : queryErrorValue(
              ctx.name,
              'select',
              state === undefined
                ? `Field ${JSON.stringify(path)} not found: nothing is stored under ${ref.key} and the reducer declares no default.`
                : `Field ${JSON.stringify(path)} not found in the state stored under ${ref.key}.`,
              { field: path, key: ref.key },
            );
      }
    }
    row.provenance = { key: ref.key, provenance: ref.provenance };
    rows[i] = row;
  });
  return rows;
}

function toKeyRef(item: unknown): KeyRef | undefined {
  if (typeof item === 'string' && item.length > 0) return { key: item, provenance: {} };
  if (!isPlainObject(item) || isQueryErrorValue(item) || typeof item.key !== 'string' || item.key.length === 0) return undefined;
  const ref: KeyRef = { key: item.key, provenance: item.provenance ?? {} };
  if (typeof item.backend === 'string') ref.backend = item.backend;
  if (item.default !== undefined) ref.default = item.default as JsonValue;
  return ref;
}
