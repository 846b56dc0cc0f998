/**
 * Base class of every error thrown by `@learning-observer/query`. Messages say what to do.
 *
 * Errors that happen while a query runs (a published function throws, a field is missing from a
 * state) are not thrown: they become error values inside the result (see `QueryErrorValue`).
 * These classes are for problems found before anything runs, and for the direct read helpers.
 *
 * @example
 * ```ts
 * try { await engine.execute('roster_counts', { exports: ['x'] }); }
 * catch (e) { if (e instanceof QueryError) console.error(e.message); }
 * ```
 */
export class QueryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found by query validation: the node (or export) it concerns and what is wrong. */
export interface QueryProblem {
  /** The node name (`exports.<name>` for a problem with a requested export). */
  node: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/**
 * A query DAG failed validation. `problems` lists every problem found (also one per line in the
 * message), each naming its node; nothing was run.
 *
 * @example
 * ```ts
 * try { await engine.execute(dag, { exports: ['x'], allowOpenQuery: true }); }
 * catch (e) { if (e instanceof QueryValidationError) e.problems.forEach((p) => console.error(p.node, p.message)); }
 * ```
 */
export class QueryValidationError extends QueryError {
  constructor(readonly problems: QueryProblem[]) {
    super(
      `The query is not valid (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was run:\n` +
        problems.map((p) => `  - ${p.node}: ${p.message}`).join('\n'),
    );
  }
}

/**
 * `publishFunction` was given a name that is already published.
 *
 * @example
 * ```ts
 * publishFunction('roster', a);
 * publishFunction('roster', b); // throws DuplicateFunctionError
 * ```
 */
export class DuplicateFunctionError extends QueryError {
  constructor(readonly functionName: string) {
    super(
      `A function named ${JSON.stringify(functionName)} is already published. Every function a query can call ` +
        'needs its own name: rename one of them, or publish it on a separate QueryEngine.',
    );
  }
}

/**
 * `publishQuery` was given a name that is already published.
 *
 * @example
 * ```ts
 * publishQuery('counts', dag);
 * publishQuery('counts', other); // throws DuplicateQueryError
 * ```
 */
export class DuplicateQueryError extends QueryError {
  constructor(readonly queryName: string) {
    super(`A query named ${JSON.stringify(queryName)} is already published; give the new one another name.`);
  }
}

/**
 * `execute` was asked for a published query name that does not exist.
 *
 * @example
 * ```ts
 * await execute('no_such_query', { exports: ['x'] }); // throws UnknownQueryError
 * ```
 */
export class UnknownQueryError extends QueryError {
  constructor(
    readonly queryName: string,
    readonly available: string[],
  ) {
    super(
      `No published query is named ${JSON.stringify(queryName)}. Published queries: ` +
        (available.length ? available.join(', ') : '(none)') +
        '. Publish it first with publishQuery(name, dag).',
    );
  }
}

/**
 * `execute` was given a whole DAG (an open query) without the explicit opt-in. In production only
 * published queries run; open queries are for trusted development and analysis settings.
 *
 * @example
 * ```ts
 * await execute(dag, { exports: ['x'] });                        // throws OpenQueryNotAllowedError
 * await execute(dag, { exports: ['x'], allowOpenQuery: true });  // runs (trusted settings only)
 * ```
 */
export class OpenQueryNotAllowedError extends QueryError {
  constructor() {
    super(
      'Running a query DAG supplied at call time (an open query) is disabled by default. Publish the DAG with ' +
        "publishQuery(name, dag) and execute it by name, or, in a trusted setting only (a notebook, a read replica), pass { allowOpenQuery: true }.",
    );
  }
}

/**
 * A reducer id that no reducer registry given to the query knows.
 *
 * @example
 * ```ts
 * await readState('m.nope', { STUDENT: 's1' }, { reducers: registry }); // throws UnknownReducerError
 * ```
 */
export class UnknownReducerError extends QueryError {
  constructor(
    readonly reducerId: string,
    detail: string,
  ) {
    super(`Unknown reducer ${JSON.stringify(reducerId)}: ${detail}`);
  }
}

/**
 * The key fields given to `readState`/`readStates` do not match the reducer's scope.
 *
 * @example
 * ```ts
 * await readState(docReducer, { STUDENT: 's1' }); // throws: EventField.doc_id is missing
 * ```
 */
export class KeyFieldsError extends QueryError {}
