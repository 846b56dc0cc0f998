import type { QueryProblem } from './errors';
import type { QueryFunction } from './handlers/context';
import type { QueryDag } from './nodes';
import { QueryEngine, type ExecuteOptions, type QueryEngineOptions, type ValidateOptions } from './QueryEngine';

let engine = new QueryEngine();

/**
 * The process-wide engine behind the module-level `publishFunction`, `publishQuery` and `execute`
 * (as the original keeps one table of published functions).
 *
 * @example
 * ```ts
 * defaultQueryEngine().functionNames();
 * ```
 */
export function defaultQueryEngine(): QueryEngine {
  return engine;
}

/**
 * Replaces the process-wide engine with a fresh one (no functions, no queries) built with
 * `options`, e.g. the reducer registry and store every `execute` should use. Returns it.
 *
 * @example
 * ```ts
 * configureQueryEngine({ reducers: registry });
 * ```
 */
export function configureQueryEngine(options: QueryEngineOptions = {}): QueryEngine {
  engine = new QueryEngine(options);
  return engine;
}

/**
 * Publishes `fn` under `name` on the process-wide engine, for `call(name)` and `map(name, ...)`.
 * A duplicate name throws `DuplicateFunctionError`.
 *
 * @example
 * ```ts
 * publishFunction('learning_observer.courseroster', async (courseId: string) => fetchRoster(courseId));
 * ```
 */
export function publishFunction(name: string, fn: QueryFunction): void {
  engine.publishFunction(name, fn);
}

/**
 * Publishes a DAG under `name` on the process-wide engine (a predefined query clients may run).
 *
 * @example
 * ```ts
 * publishQuery('event_count', studentReducerQuery('lo_toy_sba.reducers.student_event_counter'));
 * ```
 */
export function publishQuery(name: string, dag: QueryDag): void {
  engine.publishQuery(name, dag);
}

/**
 * Runs exports of a published query (by name), or of a DAG object with `allowOpenQuery: true`, on
 * the process-wide engine. See `QueryEngine.execute`.
 *
 * @example
 * ```ts
 * const out = await execute('event_count', { exports: ['student_event_counter_export'], parameters: { course_id: 'c1' }, reducers: registry });
 * ```
 */
export function execute<T extends Record<string, unknown> = Record<string, unknown>>(query: string | QueryDag, options: ExecuteOptions): Promise<T> {
  return engine.execute<T>(query, options);
}

/**
 * Every problem that would stop `dag` from running on the process-wide engine.
 *
 * @example
 * ```ts
 * validateQuery(dag, { exports: ['x'], parameters: {} }).forEach((p) => console.error(p.node, p.message));
 * ```
 */
export function validateQuery(dag: QueryDag, options: ValidateOptions = {}): QueryProblem[] {
  return engine.validate(dag, options);
}
