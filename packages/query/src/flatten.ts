import type { QueryProblem } from './errors';
import { isQueryNode, variable, type QueryDag, type QueryNode } from './nodes';
import { isPlainObject, setOwn } from './paths';

/** The fields of each node kind that may hold other nodes. */
const INPUT_FIELDS: Record<QueryNode['dispatch'], readonly string[]> = {
  parameter: [],
  variable: [],
  call: ['args'],
  keys: ['STUDENTS', 'RESOURCES'],
  select: ['keys'],
  join: ['left', 'right'],
  map: ['values', 'funcKwargs'],
};

/** A DAG whose nodes refer to each other only through `variable` nodes. */
export interface FlatDag {
  nodes: Map<string, QueryNode>;
  problems: QueryProblem[];
}

/**
 * Gives every nested node its own name, `<parent>.<field path>` (e.g. `docs.keys` for the `keys`
 * node inside `select` node `docs`, `roster.args.0` for a call's first argument), and replaces it
 * in its parent by a `variable` reference. The input is not modified.
 *
 * @example
 * ```ts
 * flattenDag({ nodes: { docs: select(keys('m.r', { STUDENTS: ['s1'] })) } }).nodes.keys();
 * // 'docs', 'docs.keys'
 * ```
 */
export function flattenDag(dag: QueryDag): FlatDag {
  const nodes = new Map<string, QueryNode>();
  const problems: QueryProblem[] = [];
  const declared = new Set(Object.keys(dag.nodes ?? {}));

  const add = (name: string, node: QueryNode): void => {
    const copy: Record<string, unknown> = { ...node };
    nodes.set(name, copy as unknown as QueryNode); // parents before the nodes nested in them
    for (const field of INPUT_FIELDS[node.dispatch] ?? []) {
      if (field in copy) copy[field] = hoist(copy[field], `${name}.${field}`);
    }
    nodes.set(name, copy as unknown as QueryNode);
  };

  const hoist = (value: unknown, path: string): unknown => {
    if (isQueryNode(value)) {
      if (value.dispatch === 'variable') return { ...value };
      if (declared.has(path) || nodes.has(path)) {
        problems.push({ node: path, message: `a nested node would be named "${path}", which is already a node name; rename that node.` });
        return variable(path);
      }
      add(path, value);
      return variable(path);
    }
    if (Array.isArray(value)) return value.map((item, i) => hoist(item, `${path}.${i}`));
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) setOwn(out, k, hoist(v, `${path}.${k}`));
      return out;
    }
    return value;
  };

  for (const [name, node] of Object.entries(dag.nodes ?? {})) {
    if (!isQueryNode(node)) {
      problems.push({
        node: name,
        message: `not a query node (expected an object whose "dispatch" is one of parameter, variable, call, keys, select, join, map; got ${describeShort(node)}).`,
      });
      continue;
    }
    add(name, node);
  }
  return { nodes, problems };
}

/**
 * Every `variable` reference inside `value` (deep).
 *
 * @example
 * ```ts
 * variableRefs([variable('a'), { x: variable('b') }]); // ['a', 'b']
 * ```
 */
export function variableRefs(value: unknown, out: string[] = []): string[] {
  if (isQueryNode(value)) {
    if (value.dispatch === 'variable') out.push(value.name);
    return out;
  }
  if (Array.isArray(value)) for (const item of value) variableRefs(item, out);
  else if (isPlainObject(value)) for (const v of Object.values(value)) variableRefs(v, out);
  return out;
}

/**
 * The names of the nodes a flattened node reads.
 *
 * @example
 * ```ts
 * dependenciesOf(join(variable('states'), variable('roster'), 'a', 'b')); // ['states', 'roster']
 * ```
 */
export function dependenciesOf(node: QueryNode): string[] {
  if (node.dispatch === 'variable') return [node.name];
  const out: string[] = [];
  const record = node as unknown as Record<string, unknown>;
  for (const field of INPUT_FIELDS[node.dispatch]) variableRefs(record[field], out);
  return out;
}

function describeShort(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? s.slice(0, 77) + '...' : s;
  } catch {
    return typeof value;
  }
}
