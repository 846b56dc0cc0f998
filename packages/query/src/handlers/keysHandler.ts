import { cloneJson, type JsonValue } from '@learning-observer/kvs';
import { KeyStateType, makeKey } from '@learning-observer/reducers';
import { isQueryErrorValue, messageOf, queryErrorValue } from '../errorValue';
import type { KeysNode } from '../nodes';
import { getPathSegments, isPlainObject, pathSegments } from '../paths';
import { scopeSlots } from '../reducerSource';
import type { HandlerContext } from './context';
import { withoutProvenance } from './provenance';

/**
 * One item of a `keys` node's output: the state key, the reducer and store it belongs to, the
 * state to use when nothing is stored, and where it came from (`provenance.STUDENT`,
 * `provenance.RESOURCE`: `{ value: <source item>, provenance?: <its provenance>, <path>: <id> }`).
 */
export interface KeyItem {
  key: string;
  reducer: string;
  backend?: string;
  default?: JsonValue;
  provenance: Record<string, unknown>;
}

interface Dimension {
  /** Input name, for messages (`STUDENTS`). */
  input: 'STUDENTS' | 'RESOURCES';
  /** Key field name (`STUDENT`, `EventField.doc_id`). */
  field: string;
  /** Provenance entry name (`STUDENT`, `RESOURCE`). */
  label: 'STUDENT' | 'RESOURCE';
  values: unknown;
  path: string | undefined;
  /** `path` split at its dots, once for every item. */
  segments: string[];
}

/**
 * Runs a `keys` node: one key per scope item. A list gives one key per item; a single id is used
 * for every key; two lists are zipped and must have the same length. An item without an id at
 * its path becomes an error value (the other keys are still made).
 */
export async function handleKeys(node: KeysNode, ctx: HandlerContext): Promise<unknown> {
  const reducer = ctx.reducer(node.reducer);
  const slots = scopeSlots(reducer);
  const stateType = node.internal ? KeyStateType.INTERNAL : KeyStateType.EXTERNAL;
  const fallback = (node.internal ? reducer.nullState : reducer.defaultState) as JsonValue | undefined;
  const dims: Dimension[] = [];
  if (node.STUDENTS !== undefined && slots.student) {
    dims.push({ input: 'STUDENTS', field: slots.student, label: 'STUDENT', values: node.STUDENTS, path: node.STUDENTS_path, segments: pathSegments(node.STUDENTS_path) });
  }
  if (node.RESOURCES !== undefined && slots.resource) {
    dims.push({ input: 'RESOURCES', field: slots.resource, label: 'RESOURCE', values: node.RESOURCES, path: node.RESOURCES_path, segments: pathSegments(node.RESOURCES_path) });
  }

  let length: number | undefined;
  for (const dim of dims) {
    if (Array.isArray(dim.values)) {
      if (length !== undefined && dim.values.length !== length) {
        return queryErrorValue(ctx.name, 'keys', `STUDENTS and RESOURCES are zipped item by item, so they must be equally long; got ${length} and ${dim.values.length}.`);
      }
      length = dim.values.length;
    } else if (!isId(dim.values) && !isPlainObject(dim.values)) {
      return queryErrorValue(ctx.name, 'keys', `${dim.input} must be a list of items or a single id; got ${dim.values === null ? 'null' : typeof dim.values}.`);
    }
  }

  const out: unknown[] = [];
  for (let i = 0; i < (length ?? 1); i++) {
    const fields: Record<string, string> = {};
    const provenance: Record<string, unknown> = {};
    let failed: unknown;
    for (const dim of dims) {
      const item = Array.isArray(dim.values) ? dim.values[i] : dim.values;
      const entry: Record<string, unknown> = { value: withoutProvenance(item) };
      if (isPlainObject(item) && item.provenance !== undefined) entry.provenance = item.provenance;
      provenance[dim.label] = entry;
      if (failed !== undefined) continue;
      if (isQueryErrorValue(item)) {
        failed = item;
        continue;
      }
      const found = getPathSegments(item, dim.segments);
      if (!found.found || !isId(found.value)) {
        const where = dim.path ? `at ${JSON.stringify(dim.path)}` : 'itself';
        failed = `${dim.input} item ${i} has no id ${where} (expected a string or number${found.found ? `, got ${found.value === null ? 'null' : typeof found.value}` : ''}).`;
        continue;
      }
      const id = String(found.value);
      fields[dim.field] = id;
      if (dim.path && dim.path !== 'value' && dim.path !== 'provenance') entry[dim.path] = id;
    }
    if (failed !== undefined) {
      out.push(typeof failed === 'string' ? queryErrorValue(ctx.name, 'keys', failed, { reducer: reducer.id, index: i }, provenance) : failed);
      continue;
    }
    try {
      const keyItem: KeyItem = { key: makeKey(reducer.id, fields, stateType), reducer: reducer.id, provenance };
      if (reducer.backend !== undefined) keyItem.backend = reducer.backend;
      if (fallback !== undefined) keyItem.default = cloneJson(fallback);
      out.push(keyItem);
    } catch (err) {
      out.push(queryErrorValue(ctx.name, 'keys', messageOf(err), { reducer: reducer.id, index: i }, provenance));
    }
  }
  return out;
}

function isId(value: unknown): value is string | number {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}
