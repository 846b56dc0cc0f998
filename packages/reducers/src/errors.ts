/**
 * Base class of every error thrown by `@learning-observer/reducers`. Messages say what to do.
 *
 * @example
 * ```ts
 * try { new EventField('doc id'); } catch (e) { if (e instanceof ReducerFrameworkError) console.error(e.message); }
 * ```
 */
export class ReducerFrameworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An `EventField` name with characters other than letters, digits, `.`, `-` and `_`.
 *
 * @example
 * ```ts
 * new EventField('doc,id'); // throws InvalidEventFieldError naming "doc,id"
 * ```
 */
export class InvalidEventFieldError extends ReducerFrameworkError {
  constructor(readonly fieldName: unknown) {
    super(
      `Invalid EventField name ${describeValue(fieldName)}: use only letters, digits, '.', '-' and '_' ` +
        '(at least one letter or digit), e.g. new EventField("doc_id").',
    );
  }
}

/**
 * A reducer id, field name or scope entry that cannot be put in a state key (it is empty or
 * contains a separator such as `,` `:` `%` or a control character).
 *
 * @example
 * ```ts
 * makeKey('my,reducer', { STUDENT: 's1' }, KeyStateType.INTERNAL); // throws InvalidKeyPartError
 * ```
 */
export class InvalidKeyPartError extends ReducerFrameworkError {}

/**
 * A string given to `parseKey` that `makeKey` cannot have produced.
 *
 * @example
 * ```ts
 * parseKey('Internal'); // throws MalformedKeyError
 * ```
 */
export class MalformedKeyError extends ReducerFrameworkError {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(
      `Malformed state key ${JSON.stringify(key)}: ${reason}. ` +
        'Keys look like "Internal,<module>.<qualname>,FIELD:value,..."; build them with makeKey().',
    );
  }
}

/**
 * A decorator compiled with TC39 standard decorators instead of TypeScript's legacy ones.
 *
 * @example
 * ```ts
 * // tsconfig.json: { "compilerOptions": { "experimentalDecorators": true } } avoids this error
 * ```
 */
export class DecoratorModeError extends ReducerFrameworkError {
  constructor(decorator: string) {
    super(
      `@${decorator} was compiled as a TC39 standard decorator. Learning Observer decorators use ` +
        'TypeScript legacy decorators: set "experimentalDecorators": true in your tsconfig.json ' +
        '(compilerOptions), or register plain functions with defineReducer() instead.',
    );
  }
}

/**
 * A decorator used on something it cannot decorate (a static method, a getter...).
 *
 * @example
 * ```ts
 * class M { @kvsPipeline({ nullState: 0 }) static count() {} } // throws DecoratorUsageError
 * ```
 */
export class DecoratorUsageError extends ReducerFrameworkError {}

/**
 * Registration found problems in one or more reducer modules. `problems` lists every one of them
 * (the message too, one per line); nothing was registered.
 *
 * @example
 * ```ts
 * try { registry.register(MyModule); } catch (e) {
 *   if (e instanceof RegistrationError) e.problems.forEach((p) => console.error(p));
 * }
 * ```
 */
export class RegistrationError extends ReducerFrameworkError {
  constructor(readonly problems: string[]) {
    super(
      `Reducer registration failed with ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}

/**
 * A reducer returned something the pipeline cannot store: not a `[internal, external]` pair, or a
 * state that is not JSON. Appears as the `cause` of a {@link ReducerError}.
 *
 * @example
 * ```ts
 * // a reducer returning { count: NaN } is reported as ReducerError with cause InvalidReducerResultError
 * ```
 */
export class InvalidReducerResultError extends ReducerFrameworkError {}

/**
 * A reducer failed for one event and one key: it threw, or returned an invalid result, or the
 * store failed while reading or writing its state. Nothing was written for that key and event.
 * Reported on `pipeline.errors$` (and in the test kit's `errors`).
 *
 * @example
 * ```ts
 * pipeline.errors$.subscribe((e) => console.error(e.reducerId, e.internalKey, e.cause));
 * ```
 */
export class ReducerError extends ReducerFrameworkError {
  constructor(
    readonly reducerId: string,
    readonly internalKey: string,
    readonly event: unknown,
    override readonly cause: unknown,
  ) {
    super(
      `Reducer ${reducerId} failed for key ${JSON.stringify(internalKey)}: ${causeText(cause)}. ` +
        'Nothing was written for this key and event; fix the reducer (or its input) and replay the event.',
      { cause },
    );
  }
}

/**
 * A module's event migrator (`@reducerModule(..., { migrate })`) threw, or returned something that
 * is not an event, so the module's reducers could not be keyed for that event. Reported on
 * `pipeline.errors$` once per reducer of the module, like a {@link ReducerError} (it is one), with
 * an empty `internalKey` (the key would come from the migrated event) and `event` as given.
 *
 * @example
 * ```ts
 * pipeline.errors$.subscribe((e) => { if (e instanceof EventMigrationError) console.error(e.module, e.cause); });
 * ```
 */
export class EventMigrationError extends ReducerError {
  constructor(
    reducerId: string,
    readonly module: string,
    event: unknown,
    cause: unknown,
  ) {
    super(reducerId, '', event, cause);
    this.message =
      `The event migrator of module ${module} failed, so reducer ${reducerId} did not run for this event: ${causeText(cause)}. ` +
      'Nothing was written for it; fix the migrator (it must return the event itself or a changed copy, and not throw) and replay the event.';
  }
}

/**
 * The pipeline was asked to use a store it cannot find (a reducer names a `backend` but no router
 * or global KVS configuration has it).
 *
 * @example
 * ```ts
 * new ReducerPipeline({ modules: [UsesRedisCache] }); // throws if KVS.redis_cache is not configured
 * ```
 */
export class StoreResolutionError extends ReducerFrameworkError {}

/**
 * The pipeline's `reducers` filter names a reducer id or module that is not registered; the
 * message lists the registered reducer ids.
 *
 * @example
 * ```ts
 * new ReducerPipeline({ modules: [Counter], reducers: ['counter.typo'] }); // throws UnknownReducerError
 * ```
 */
export class UnknownReducerError extends ReducerFrameworkError {}

/**
 * `operator()` stopped its stream because more than `maxBuffered` events were waiting for the
 * store: the push source outpaced the store, and a push source cannot be slowed down. Stopping is
 * what keeps memory bounded; the message says how to avoid it.
 *
 * @example
 * ```ts
 * events$.pipe(pipeline.operator()).subscribe({
 *   error: (e) => { if (e instanceof BufferOverflowError) console.error(e.message); },
 * });
 * ```
 */
export class BufferOverflowError extends ReducerFrameworkError {
  constructor(
    readonly maxBuffered: number,
    readonly concurrency: number,
  ) {
    super(
      `pipeline.operator(): ${maxBuffered} events were already waiting for the store (maxBuffered ${maxBuffered}, ` +
        `${concurrency} store transactions in flight) when another one arrived, so the stream was stopped instead of ` +
        'letting memory grow without bound (a push source cannot be slowed down). Use pipeline.run() with an ' +
        'AsyncIterable (pull) source to get backpressure, raise the pipeline\'s maxBuffered option (memory grows with it), ' +
        'or add store capacity (a faster store, a higher concurrency, or batchSize).',
    );
  }
}

function causeText(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return `threw ${describeValue(cause)}`;
}

/**
 * A short printable description of any value, for error messages.
 *
 * @example
 * ```ts
 * describeValue('a b'); // '"a b"'
 * describeValue(1n);    // '1n'
 * ```
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'symbol') return value.toString();
  if (value === undefined) return 'undefined';
  try {
    const s = JSON.stringify(value);
    return s === undefined ? String(value) : s.length > 200 ? s.slice(0, 197) + '...' : s;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
