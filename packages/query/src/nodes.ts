/**
 * The query language: node builders that produce plain, JSON-serialisable node objects. A query
 * is a DAG of named nodes (see `QueryDag`); nodes refer to each other with `variable(name)` or by
 * nesting (a nested node is given the name `<parent>.<field path>` when the DAG is run).
 */

/**
 * The kinds of node, the value of every node's `dispatch` field.
 *
 * @example
 * ```ts
 * if (node.dispatch === Dispatch.SELECT) console.log(node.fields);
 * ```
 */
export const Dispatch = {
  PARAMETER: 'parameter',
  VARIABLE: 'variable',
  CALL: 'call',
  KEYS: 'keys',
  SELECT: 'select',
  JOIN: 'join',
  MAP: 'map',
} as const;

/** A node kind (`'parameter'`, `'variable'`, ...). */
export type DispatchKind = (typeof Dispatch)[keyof typeof Dispatch];

const DISPATCH_KINDS: ReadonlySet<string> = new Set(Object.values(Dispatch));

/** A value supplied by the caller of `execute` (`parameters[name]`), or its default. */
export interface ParameterNode {
  dispatch: 'parameter';
  name: string;
  required: boolean;
  default?: unknown;
}

/** The output of another node of the DAG. */
export interface VariableNode {
  dispatch: 'variable';
  name: string;
}

/** A call of a published function with the given arguments (which may contain nodes). */
export interface CallNode {
  dispatch: 'call';
  function: string;
  args: unknown[];
}

/** One state key per scope item (student, or student and document) for a reducer. */
export interface KeysNode {
  dispatch: 'keys';
  reducer: string;
  STUDENTS?: unknown;
  STUDENTS_path?: string;
  RESOURCES?: unknown;
  RESOURCES_path?: string;
  /** Read the reducer's internal state instead of its external state. */
  internal?: boolean;
}

/**
 * Which fields `select` keeps: `'all'` (every top-level field of the state), a list of dotted
 * paths (each returned under its path), or a mapping `{ dotted.path: outputName }`.
 */
export type SelectFieldsSpec = 'all' | readonly string[] | Readonly<Record<string, string>>;

/** Reads the states behind a list of keys (one batched read per store). */
export interface SelectNode {
  dispatch: 'select';
  keys: unknown;
  fields: SelectFieldsSpec;
}

/** Left rows merged with the (last) right row whose `rightOn` value equals their `leftOn` value. */
export interface JoinNode {
  dispatch: 'join';
  left: unknown;
  right: unknown;
  leftOn: string;
  rightOn: string;
}

/** A published function applied to every item of a list. */
export interface MapNode {
  dispatch: 'map';
  function: string;
  values: unknown;
  valuePath?: string;
  funcKwargs?: unknown;
  /** `false`: one item at a time; `true`: all at once; a number: at most that many at once. */
  parallel: boolean | number;
}

/** Any node of the query language. */
export type QueryNode = ParameterNode | VariableNode | CallNode | KeysNode | SelectNode | JoinNode | MapNode;

/** A named export of a DAG: which node it returns and which parameters it takes. */
export interface ExportSpec {
  /** The node whose value the export returns. */
  returns: string;
  /** The parameters a caller should pass (documentation; required ones are checked anyway). */
  parameters?: string[];
  /** What the export is for. */
  description?: string;
}

/**
 * A query: named nodes and the exports a caller may ask for.
 *
 * @example
 * ```ts
 * const dag: QueryDag = {
 *   nodes: { doubled: call('double')(parameter('x', { required: true })) },
 *   exports: { doubled: { returns: 'doubled', parameters: ['x'] } },
 * };
 * ```
 */
export interface QueryDag {
  nodes: Record<string, QueryNode>;
  exports?: Record<string, ExportSpec>;
}

/**
 * Whether `value` is a query node (a plain object whose `dispatch` is a node kind).
 *
 * @example
 * ```ts
 * isQueryNode(variable('roster')); // true
 * isQueryNode({ user_id: 's1' });   // false
 * ```
 */
export function isQueryNode(value: unknown): value is QueryNode {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { dispatch?: unknown }).dispatch === 'string' &&
    DISPATCH_KINDS.has((value as { dispatch: string }).dispatch)
  );
}

/**
 * A value the caller of `execute` supplies in `parameters`. A required parameter that is missing
 * fails validation (nothing runs); an optional one takes `default` (undefined when not given).
 *
 * @example
 * ```ts
 * parameter('course_id', { required: true });
 * parameter('limit', { default: 10 });
 * ```
 */
export function parameter(name: string, options: { required?: boolean; default?: unknown } = {}): ParameterNode {
  const node: ParameterNode = { dispatch: 'parameter', name, required: options.required ?? false };
  if (options.default !== undefined) node.default = options.default;
  return node;
}

/**
 * A reference to the output of another node of the same DAG.
 *
 * @example
 * ```ts
 * select(variable('roster_keys'));
 * ```
 */
export function variable(name: string): VariableNode {
  return { dispatch: 'variable', name };
}

/** What `call(name)` returns: a node builder that also remembers the function name (for `map`). */
export interface CallBuilder {
  (...args: unknown[]): CallNode;
  /** The published function name. */
  readonly functionName: string;
}

/**
 * A call of a published function. `call(name)` returns a builder; call it with the arguments
 * (literal values or nodes, also nested inside objects and arrays).
 *
 * @example
 * ```ts
 * const roster = call('learning_observer.courseroster');
 * roster(parameter('course_id', { required: true }));
 * ```
 */
export function call(functionName: string): CallBuilder {
  const builder = (...args: unknown[]): CallNode => ({ dispatch: 'call', function: functionName, args });
  Object.defineProperty(builder, 'functionName', { value: functionName, enumerable: true });
  return builder as CallBuilder;
}

/** Options of {@link keys}: where the scope values come from. */
export interface KeysOptions {
  /** Student ids: a list of items (with `STUDENTS_path` to reach the id in each) or one id. */
  STUDENTS?: unknown;
  /** Dotted path of the student id inside each `STUDENTS` item. */
  STUDENTS_path?: string;
  /** Resource (document) ids: a list of items or one id, zipped with `STUDENTS`. */
  RESOURCES?: unknown;
  /** Dotted path of the resource id inside each `RESOURCES` item. */
  RESOURCES_path?: string;
  /** Keys of the internal state instead of the external state (default `false`). */
  internal?: boolean;
}

/**
 * State keys of a reducer, one per scope item, each with its provenance (the roster row or
 * document it came from) and the reducer's default state. `RESOURCES` fills the reducer's
 * `EventField.doc_id` field (or `RESOURCE` when the scope has that instead). When both lists are
 * given they are zipped (item i with item i); a single id is used for every item.
 *
 * @example
 * ```ts
 * keys('my_module.event_count', { STUDENTS: variable('roster'), STUDENTS_path: 'user_id' });
 * ```
 */
export function keys(reducerId: string, options: KeysOptions = {}): KeysNode {
  const node: KeysNode = { dispatch: 'keys', reducer: reducerId };
  if (options.STUDENTS !== undefined) node.STUDENTS = options.STUDENTS;
  if (options.STUDENTS_path !== undefined) node.STUDENTS_path = options.STUDENTS_path;
  if (options.RESOURCES !== undefined) node.RESOURCES = options.RESOURCES;
  if (options.RESOURCES_path !== undefined) node.RESOURCES_path = options.RESOURCES_path;
  if (options.internal) node.internal = true;
  return node;
}

/**
 * Reads the state behind each key (missing state -> the reducer's default) and keeps the chosen
 * fields. A chosen field the state lacks becomes an error value on that row, not a failure.
 * Each row carries `provenance: { key, provenance }` so it can be joined back to its roster row.
 *
 * @example
 * ```ts
 * select(keys('m.event_count', { STUDENTS: variable('roster'), STUDENTS_path: 'user_id' }));        // all fields
 * select(variable('count_keys'), ['count']);                    // chosen fields
 * select(variable('count_keys'), { 'totals.count': 'count' });  // renamed
 * ```
 */
export function select(keysInput: unknown, fields: SelectFieldsSpec = 'all'): SelectNode {
  return { dispatch: 'select', keys: keysInput, fields };
}

/**
 * Merges each left row with the right row whose value at `rightOn` equals the left row's value at
 * `leftOn` (dotted paths; right fields win on a clash). When several right rows have that value,
 * the last one is used, as in the original. Left rows without a match, or without `leftOn`, are
 * kept unchanged; right rows without `rightOn` are ignored.
 *
 * @example
 * ```ts
 * join(variable('states'), variable('roster'), 'provenance.provenance.STUDENT.value.user_id', 'user_id');
 * ```
 */
export function join(left: unknown, right: unknown, leftOn: string, rightOn: string): JoinNode {
  return { dispatch: 'join', left, right, leftOn, rightOn };
}

/** Options of {@link map}. */
export interface MapOptions {
  /** Dotted path of the value inside each item to pass to the function (default: the item). */
  valuePath?: string;
  /** Passed as the function's second argument (may contain nodes). */
  funcKwargs?: unknown;
  /** `true`: run all items at once; a number: at most that many at once. Order is kept either way. */
  parallel?: boolean | number;
}

/**
 * Applies a published function to each item of a list. The output has one row per input item, in
 * input order (also in parallel): the function's object result, or `{ output: result }`, with
 * `provenance`; an item whose function call throws becomes an error value with its provenance.
 *
 * @example
 * ```ts
 * map(call('summarise'), variable('docs'), { valuePath: 'text', funcKwargs: { words: 20 }, parallel: 4 });
 * ```
 */
export function map(fn: string | CallBuilder, values: unknown, options: MapOptions = {}): MapNode {
  const node: MapNode = {
    dispatch: 'map',
    function: typeof fn === 'string' ? fn : fn.functionName,
    values,
    parallel: options.parallel ?? false,
  };
  if (options.valuePath !== undefined) node.valuePath = options.valuePath;
  if (options.funcKwargs !== undefined) node.funcKwargs = options.funcKwargs;
  return node;
}
