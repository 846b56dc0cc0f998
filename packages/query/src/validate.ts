import type { QueryProblem } from './errors';
import { dependenciesOf } from './flatten';
import type { QueryNode, SelectFieldsSpec } from './nodes';
import { isPlainObject } from './paths';
import { lookupReducer, scopeSlots, type ReducerSource } from './reducerSource';

/** What {@link validateFlatDag} checks besides the DAG's own structure. */
export interface ValidationContext {
  /** Required parameters are checked when given. */
  parameters?: Record<string, unknown>;
  /** Function names of `call`/`map` nodes are checked when given. */
  hasFunction?: (name: string) => boolean;
  /** Reducer ids of `keys` nodes (and their scopes) are checked when true. */
  checkReducers?: boolean;
  reducers?: ReducerSource;
}

/**
 * Checks the nodes reachable from `targets`: node shapes, unknown variables, cycles, missing
 * required parameters, unknown functions and reducers. Returns every problem found, each naming
 * its node (an empty list means the DAG can run).
 *
 * @example
 * ```ts
 * const flat = flattenDag(dag);
 * validateFlatDag(flat.nodes, ['roster_join'], { parameters: {}, hasFunction: (n) => n in fns });
 * ```
 */
export function validateFlatDag(nodes: Map<string, QueryNode>, targets: readonly string[], ctx: ValidationContext): QueryProblem[] {
  const problems: QueryProblem[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const reportedCycles = new Set<string>();

  const visit = (name: string): void => {
    const status = state.get(name);
    if (status === 'done') return;
    if (status === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      const id = [...cycle.slice(0, -1)].sort().join('|');
      if (!reportedCycles.has(id)) {
        reportedCycles.add(id);
        problems.push({ node: name, message: `circular reference: ${cycle.join(' -> ')}. A node cannot depend on itself; break the loop.` });
      }
      return;
    }
    const node = nodes.get(name);
    if (node === undefined) return;
    state.set(name, 'visiting');
    stack.push(name);
    problems.push(...checkNode(name, node, ctx));
    for (const dep of dependenciesOf(node)) {
      if (typeof dep !== 'string' || !nodes.has(dep)) {
        problems.push({ node: name, message: `refers to variable ${JSON.stringify(dep)}, which is not a node of this DAG. Known nodes: ${[...nodes.keys()].join(', ')}.` });
        continue;
      }
      visit(dep);
    }
    stack.pop();
    state.set(name, 'done');
  };

  for (const target of targets) visit(target);
  return problems;
}

function checkNode(name: string, node: QueryNode, ctx: ValidationContext): QueryProblem[] {
  const out: QueryProblem[] = [];
  const bad = (message: string): void => {
    out.push({ node: name, message });
  };
  switch (node.dispatch) {
    case 'parameter':
      if (!nonEmptyString(node.name)) bad('a parameter node needs a non-empty "name".');
      else if (node.required && ctx.parameters !== undefined && ctx.parameters[node.name] === undefined) {
        bad(`required parameter ${JSON.stringify(node.name)} is missing; pass it in parameters: { ${node.name}: ... }.`);
      }
      break;
    case 'variable':
      if (!nonEmptyString(node.name)) bad('a variable node needs a non-empty "name".');
      break;
    case 'call':
      if (!nonEmptyString(node.function)) bad('a call node needs a "function" name.');
      else checkFunction(node.function, ctx, bad);
      if (!Array.isArray(node.args)) bad('a call node needs "args", a list of arguments.');
      break;
    case 'map':
      if (!nonEmptyString(node.function)) bad('a map node needs a "function" name.');
      else checkFunction(node.function, ctx, bad);
      if (node.valuePath !== undefined && typeof node.valuePath !== 'string') bad('"valuePath" must be a dotted path string.');
      if (!(typeof node.parallel === 'boolean' || (Number.isInteger(node.parallel) && node.parallel >= 1))) {
        bad('"parallel" must be true, false or a whole number of items to run at once (at least 1).');
      }
      break;
    case 'join':
      if (typeof node.leftOn !== 'string') bad('a join node needs "leftOn", a dotted path into the left rows.');
      if (typeof node.rightOn !== 'string') bad('a join node needs "rightOn", a dotted path into the right rows.');
      break;
    case 'select': {
      const problem = selectFieldsProblem(node.fields);
      if (problem) bad(problem);
      break;
    }
    case 'keys':
      checkKeys(node, ctx, bad);
      break;
  }
  return out;
}

function checkFunction(fn: string, ctx: ValidationContext, bad: (m: string) => void): void {
  if (ctx.hasFunction && !ctx.hasFunction(fn)) {
    bad(`calls function ${JSON.stringify(fn)}, which is not published. Publish it with publishFunction(${JSON.stringify(fn)}, fn).`);
  }
}

function checkKeys(node: Extract<QueryNode, { dispatch: 'keys' }>, ctx: ValidationContext, bad: (m: string) => void): void {
  if (!nonEmptyString(node.reducer)) {
    bad('a keys node needs the reducer id ("<module>.<qualname>").');
    return;
  }
  for (const path of ['STUDENTS_path', 'RESOURCES_path'] as const) {
    if (node[path] !== undefined && typeof node[path] !== 'string') bad(`"${path}" must be a dotted path string.`);
  }
  if (node.STUDENTS === undefined && node.RESOURCES === undefined) bad('a keys node needs STUDENTS and/or RESOURCES.');
  if (!ctx.checkReducers) return;
  if (ctx.reducers === undefined) {
    bad(`reads reducer ${JSON.stringify(node.reducer)}, but no reducer registry was given; pass { reducers: registry }.`);
    return;
  }
  const reducer = lookupReducer(ctx.reducers, node.reducer);
  if (reducer === undefined) {
    bad(`reads reducer ${JSON.stringify(node.reducer)}, which the reducer registry does not know; register its module first.`);
    return;
  }
  const slots = scopeSlots(reducer);
  const scope = reducer.scope.keyNames.join(', ');
  if (slots.others.length) bad(`reducer ${reducer.id} is keyed by ${scope}; a keys node can fill only STUDENT and a document field, not ${slots.others.join(', ')}.`);
  if (node.STUDENTS !== undefined && !slots.student) bad(`STUDENTS was given, but reducer ${reducer.id} is keyed by ${scope} (no STUDENT).`);
  if (node.RESOURCES !== undefined && !slots.resource) bad(`RESOURCES was given, but reducer ${reducer.id} is keyed by ${scope} (no EventField.doc_id or RESOURCE).`);
  if (slots.student && node.STUDENTS === undefined) bad(`reducer ${reducer.id} is keyed by ${scope}: give STUDENTS.`);
  if (slots.resource && node.RESOURCES === undefined) bad(`reducer ${reducer.id} is keyed by ${scope}: give RESOURCES.`);
}

/**
 * Why a `select` fields spec is invalid, or undefined when it is valid.
 *
 * @example
 * ```ts
 * selectFieldsProblem(['count']); // undefined
 * selectFieldsProblem(42 as never); // "select \"fields\" must be 'all', ..."
 * ```
 */
export function selectFieldsProblem(fields: SelectFieldsSpec | undefined): string | undefined {
  if (fields === 'all') return undefined;
  if (Array.isArray(fields)) {
    return fields.every(nonEmptyString) ? undefined : 'select "fields" must list non-empty dotted paths.';
  }
  if (isPlainObject(fields)) {
    return Object.entries(fields).every(([k, v]) => k.length > 0 && nonEmptyString(v))
      ? undefined
      : 'select "fields" must map non-empty dotted paths to non-empty output names.';
  }
  return `select "fields" must be 'all', a list of dotted paths, or { path: outputName }; got ${JSON.stringify(fields)}.`;
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
