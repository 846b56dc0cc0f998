import {
  DuplicateFunctionError,
  DuplicateQueryError,
  OpenQueryNotAllowedError,
  QueryError,
  QueryValidationError,
  UnknownQueryError,
  UnknownReducerError,
  type QueryProblem,
} from './errors';
import { isQueryErrorValue, messageOf, queryErrorValue } from './errorValue';
import { dependenciesOf, flattenDag } from './flatten';
import { handleCall } from './handlers/callHandler';
import type { HandlerContext, QueryFunction } from './handlers/context';
import { handleJoin } from './handlers/joinHandler';
import { handleKeys } from './handlers/keysHandler';
import { handleMap } from './handlers/mapHandler';
import { handleSelect } from './handlers/selectHandler';
import { isQueryNode, type QueryDag, type QueryNode } from './nodes';
import { isPlainObject, setOwn } from './paths';
import { lookupReducer, type ReducerSource } from './reducerSource';
import { storeFor, type StoreOptions } from './stores';
import { validateFlatDag } from './validate';

/** Options of `new QueryEngine(...)`: defaults for every `execute`. */
export interface QueryEngineOptions extends StoreOptions {
  /** Functions published from the start (same as calling `publishFunction` for each). */
  functions?: Record<string, QueryFunction>;
  /** Where `keys` nodes resolve reducer ids (a `ReducerRegistry` or a list of definitions). */
  reducers?: ReducerSource;
  /** Let every `execute` run DAGs supplied at call time. Development and trusted settings only. */
  allowOpenQueries?: boolean;
}

/** Options of {@link QueryEngine.execute}. */
export interface ExecuteOptions extends StoreOptions {
  /** The exports to compute (names from the DAG's `exports`; for open queries also node names). */
  exports: readonly string[];
  /** Values for the DAG's `parameter` nodes. */
  parameters?: Record<string, unknown>;
  /** Allow running a DAG object supplied at call time (an open query). Trusted settings only. */
  allowOpenQuery?: boolean;
  /** Overrides the engine's reducer source for this run. */
  reducers?: ReducerSource;
}

/** Options of {@link QueryEngine.validate}. */
export interface ValidateOptions {
  /** Exports to check (default: every declared export, or every node when none are declared). */
  exports?: readonly string[];
  /** When given, missing required parameters are reported. */
  parameters?: Record<string, unknown>;
  /** Overrides the engine's reducer source. */
  reducers?: ReducerSource;
}

/**
 * Runs query DAGs against the reducers' state. Holds the published functions (what `call` and
 * `map` may run) and the published queries (what clients may run by name).
 *
 * Security model, after the original's "predefined queries" vs "open queries": by default only a
 * published query runs, by name, and only its declared exports can be requested. A DAG object
 * supplied at call time (which could call any published function and read any reducer) runs only
 * with the explicit opt-in `allowOpenQuery: true` (or `allowOpenQueries` on the engine), meant for
 * notebooks, tests and read replicas.
 *
 * @example
 * ```ts
 * const engine = new QueryEngine({ reducers: registry, store });
 * engine.publishFunction('learning_observer.courseroster', async (courseId: string) => roster(courseId));
 * engine.publishQuery('event_count', studentReducerQuery('my_module.event_count'));
 * const out = await engine.execute('event_count', { exports: ['event_count_export'], parameters: { course_id: 'c1' } });
 * ```
 */
export class QueryEngine {
  private readonly functionTable = new Map<string, QueryFunction>();
  private readonly queryTable = new Map<string, QueryDag>();
  private readonly options: QueryEngineOptions;

  constructor(options: QueryEngineOptions = {}) {
    this.options = options;
    for (const [name, fn] of Object.entries(options.functions ?? {})) this.publishFunction(name, fn);
  }

  /**
   * Makes `fn` callable from `call(name)` and `map(name, ...)` nodes. Publishing a name twice
   * throws `DuplicateFunctionError`.
   *
   * @example
   * ```ts
   * engine.publishFunction('double', (x: number) => x * 2);
   * ```
   */
  publishFunction(name: string, fn: QueryFunction): void {
    if (typeof name !== 'string' || name.length === 0) throw new QueryError('A published function needs a non-empty name.');
    if (typeof fn !== 'function') throw new QueryError(`publishFunction(${JSON.stringify(name)}, fn): fn must be a function.`);
    if (this.functionTable.has(name)) throw new DuplicateFunctionError(name);
    this.functionTable.set(name, fn);
  }

  /** The names of the published functions. */
  functionNames(): string[] {
    return [...this.functionTable.keys()];
  }

  /**
   * Publishes a DAG under `name`, so clients can run its exports by name. The DAG is checked for
   * structure (node shapes, unknown variables, cycles, exports returning unknown nodes) and
   * copied; functions, reducers and parameters are checked when it runs.
   *
   * @example
   * ```ts
   * engine.publishQuery('event_count', studentReducerQuery('my_module.event_count'));
   * ```
   */
  publishQuery(name: string, dag: QueryDag): void {
    if (typeof name !== 'string' || name.length === 0) throw new QueryError('A published query needs a non-empty name.');
    if (this.queryTable.has(name)) throw new DuplicateQueryError(name);
    const { problems } = this.prepare(dag, undefined, true, { checkRuntime: false });
    if (problems.length) throw new QueryValidationError(problems);
    this.queryTable.set(name, structuredClone(dag));
  }

  /** The names of the published queries. */
  queryNames(): string[] {
    return [...this.queryTable.keys()];
  }

  /** The exports of a published query (name -> spec), e.g. to list them in a dashboard. */
  exportsOf(queryName: string): NonNullable<QueryDag['exports']> {
    const dag = this.queryTable.get(queryName);
    if (!dag) throw new UnknownQueryError(queryName, this.queryNames());
    return structuredClone(dag.exports ?? {});
  }

  /**
   * Every problem that would stop `dag` from running (empty when it can run): structure, unknown
   * variables, cycles, unpublished functions, unknown reducers (against the reducer source), and,
   * when `parameters` is given, missing required parameters.
   *
   * @example
   * ```ts
   * engine.validate(dag, { exports: ['counts'], parameters: {} });
   * // [{ node: 'roster.args.0', message: 'required parameter "course_id" is missing; ...' }]
   * ```
   */
  validate(dag: QueryDag, options: ValidateOptions = {}): QueryProblem[] {
    return this.prepare(dag, options.exports, true, {
      parameters: options.parameters,
      reducers: options.reducers ?? this.options.reducers,
      checkRuntime: true,
    }).problems;
  }

  /**
   * Runs the requested exports of a query and returns `{ exportName: value }`. `query` is the name
   * of a published query, or (with `allowOpenQuery: true`) a DAG object. The DAG is validated
   * first; all problems are thrown together as `QueryValidationError` and nothing runs. Errors
   * while running (a function throws, a field is missing) are returned as error values.
   *
   * @example
   * ```ts
   * const { event_count_export } = await engine.execute('event_count', {
   *   exports: ['event_count_export'],
   *   parameters: { course_id: 'c1' },
   * });
   * ```
   */
  async execute<T extends Record<string, unknown> = Record<string, unknown>>(query: string | QueryDag, options: ExecuteOptions): Promise<T> {
    if (!options || !Array.isArray(options.exports) || options.exports.length === 0) {
      throw new QueryError('execute(query, { exports: [...] }) needs the list of exports to compute.');
    }
    let dag: QueryDag;
    let open = false;
    if (typeof query === 'string') {
      const published = this.queryTable.get(query);
      if (!published) throw new UnknownQueryError(query, this.queryNames());
      dag = published;
    } else {
      if (!(options.allowOpenQuery ?? this.options.allowOpenQueries)) throw new OpenQueryNotAllowedError();
      dag = query;
      open = true;
    }
    const reducers = options.reducers ?? this.options.reducers;
    const parameters = options.parameters ?? {};
    const prepared = this.prepare(dag, options.exports, open, { parameters, reducers, checkRuntime: true });
    if (prepared.problems.length) throw new QueryValidationError(prepared.problems);

    const storeOptions: StoreOptions = {
      store: options.store ?? this.options.store,
      router: options.router ?? this.options.router,
    };
    const run = new DagRun(prepared.nodes, parameters, {
      fn: (name) => this.functionTable.get(name)!,
      reducer: (id) => {
        const def = lookupReducer(reducers, id);
        if (!def) throw new UnknownReducerError(id, 'it disappeared from the reducer registry while the query ran.');
        return def;
      },
      store: (backend) => storeFor(backend, storeOptions),
    });
    const out: Record<string, unknown> = {};
    await Promise.all(
      prepared.targets.map(async ([exportName, node]) => {
        out[exportName] = await run.evaluate(node);
      }),
    );
    return out as T;
  }

  private prepare(
    dag: QueryDag,
    requested: readonly string[] | undefined,
    allowNodeNames: boolean,
    ctx: { parameters?: Record<string, unknown>; reducers?: ReducerSource; checkRuntime: boolean },
  ): { nodes: Map<string, QueryNode>; targets: [string, string][]; problems: QueryProblem[] } {
    if (!isPlainObject(dag) || !isPlainObject(dag.nodes)) {
      return {
        nodes: new Map(),
        targets: [],
        problems: [{ node: '(dag)', message: 'a query DAG is an object { nodes: { name: node, ... }, exports?: { name: { returns } } }.' }],
      };
    }
    const flat = flattenDag(dag);
    const problems = [...flat.problems];
    const exports = dag.exports ?? {};
    const names = requested ?? (Object.keys(exports).length ? Object.keys(exports) : Object.keys(dag.nodes).filter((n) => flat.nodes.has(n)));
    const targets: [string, string][] = [];
    for (const name of names) {
      const spec = Object.prototype.hasOwnProperty.call(exports, name) ? exports[name] : undefined;
      if (spec) {
        if (!flat.nodes.has(spec.returns)) {
          problems.push({ node: `exports.${name}`, message: `returns node ${JSON.stringify(spec.returns)}, which is not a node of this DAG.` });
        } else targets.push([name, spec.returns]);
      } else if ((allowNodeNames || requested === undefined) && flat.nodes.has(name)) {
        targets.push([name, name]);
      } else {
        const known = Object.keys(exports);
        problems.push({
          node: `exports.${name}`,
          message: `no export named ${JSON.stringify(name)}; available exports: ${known.length ? known.join(', ') : '(none)'}.`,
        });
      }
    }
    problems.push(
      ...validateFlatDag(
        flat.nodes,
        targets.map(([, node]) => node),
        ctx.checkRuntime
          ? { parameters: ctx.parameters, hasFunction: (n) => this.functionTable.has(n), checkReducers: true, reducers: ctx.reducers }
          : {},
      ),
    );
    return { nodes: flat.nodes, targets, problems };
  }
}

/** One execution of a flattened DAG: each node is evaluated once, independent nodes concurrently. */
class DagRun {
  private readonly results = new Map<string, Promise<unknown>>();

  constructor(
    private readonly nodes: Map<string, QueryNode>,
    private readonly parameters: Record<string, unknown>,
    private readonly services: Omit<HandlerContext, 'name'>,
  ) {}

  evaluate(name: string): Promise<unknown> {
    let result = this.results.get(name);
    if (!result) {
      result = this.run(name, this.nodes.get(name)!);
      this.results.set(name, result);
    }
    return result;
  }

  private async run(name: string, node: QueryNode): Promise<unknown> {
    if (node.dispatch === 'parameter') {
      const given = this.parameters[node.name];
      if (given !== undefined) return given;
      return node.default === undefined ? undefined : structuredClone(node.default);
    }
    if (node.dispatch === 'variable') return this.evaluate(node.name);

    const deps = [...new Set(dependenciesOf(node))];
    const values = new Map<string, unknown>();
    await Promise.all(deps.map(async (dep) => values.set(dep, await this.evaluate(dep))));
    // An input that failed as a whole fails this node too: its error value is passed on unchanged,
    // so the result names the node where the failure happened. Failed items inside lists flow on.
    for (const dep of deps) {
      const value = values.get(dep);
      if (isQueryErrorValue(value)) return value;
    }
    const resolved = substitute(node, values) as QueryNode;
    const ctx: HandlerContext = { name, ...this.services };
    try {
      switch (resolved.dispatch) {
        case 'call':
          return await handleCall(resolved, ctx);
        case 'keys':
          return await handleKeys(resolved, ctx);
        case 'select':
          return await handleSelect(resolved, ctx);
        case 'join':
          return await handleJoin(resolved, ctx);
        case 'map':
          return await handleMap(resolved, ctx);
        default:
          throw new QueryError(`unknown dispatch ${JSON.stringify((resolved as { dispatch: unknown }).dispatch)}`);
      }
    } catch (err) {
      // Handlers turn expected failures into error values themselves; anything else is reported
      // the same way, so one node's failure never rejects the whole query.
      return queryErrorValue(name, resolved.dispatch, `Node failed: ${messageOf(err)}`);
    }
  }
}

/** Replaces the `variable` references inside a node's inputs with the referenced values. */
function substitute(value: unknown, values: Map<string, unknown>, top = true): unknown {
  if (!top && isQueryNode(value) && value.dispatch === 'variable') return values.get(value.name);
  if (Array.isArray(value)) return value.map((v) => substitute(v, values, false));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, substitute(v, values, false));
    return out;
  }
  return value;
}

