import { assertJsonValue, InvalidValueError, type JsonValue } from '@learning-observer/kvs';
import {
  readModuleMetadata,
  readReducerMethods,
  type KvsPipelineOptions,
  type ReducerFunction,
  type ReducerOutput,
} from './decorators';
import { RegistrationError, describeValue } from './errors';
import type { LOEvent } from './events';
import type { EventMigrator } from './eventMigrator';
import { EventField, KeyField, Scope, type ScopeField } from './fields';
import { assertReducerId } from './keys';

/**
 * A registered reducer, as the pipeline runs it.
 *
 * @example
 * ```ts
 * const def = registry.get('lo_toy_sba.reducers.student_event_counter')!;
 * const [internal, external] = await def.invoke(event, structuredClone(def.nullState));
 * ```
 */
export interface ReducerDefinition {
  /** `<module>.<qualname>`: the key's second segment. */
  readonly id: string;
  readonly module: string;
  readonly qualname: string;
  /** Event sources this reducer listens to. */
  readonly contexts: readonly string[];
  readonly scope: Scope;
  /** State before the first event. */
  readonly nullState: JsonValue;
  /** What dashboards show for missing state (the `default` option, else `nullState`). */
  readonly defaultState: JsonValue;
  /** Named store for this reducer's state, if any. */
  readonly backend?: string;
  /** The module instance the method is called on (`undefined` for `defineReducer` without `thisArg`). */
  readonly instance?: object;
  /** The module's event migrator (`@reducerModule(..., { migrate })`), applied before keying; none when absent. */
  readonly migrate?: EventMigrator;
  /** Calls the reducer with the module instance as `this`. */
  invoke(event: LOEvent, state: any): ReducerOutput | Promise<ReducerOutput>;
}

const REDUCER_SPEC = Symbol.for('learning-observer.reducer-spec');

/** Options of {@link defineReducer}. */
export interface DefineReducerOptions extends KvsPipelineOptions {
  /** Module name (first part of the reducer id). */
  module: string;
  /** Qualname (second part of the id). Default: the function's name. */
  qualname?: string;
  /** Event source(s) the reducer listens to. */
  context: string | string[];
  /** `this` for the reducer function. */
  thisArg?: object;
  /** An event migrator applied before this reducer is keyed and called (see {@link EventMigrator}). */
  migrate?: EventMigrator;
}

/** A reducer declared without decorators; register it like a module class. */
export interface ReducerSpec {
  readonly [REDUCER_SPEC]: true;
  readonly options: DefineReducerOptions;
  readonly fn: ReducerFunction;
}

/**
 * Declares a reducer from a plain function, without decorators (handy from plain JavaScript).
 * Pass the result to `ReducerRegistry.register` or in `new ReducerPipeline({ modules: [...] })`.
 *
 * @example
 * ```js
 * const counter = defineReducer(
 *   { module: 'lo_toy_sba.reducers', qualname: 'student_event_counter', context: 'org.ets.sba', nullState: { count: 0 } },
 *   (event, state) => [{ count: state.count + 1 }, { count: state.count + 1 }],
 * );
 * const pipeline = new ReducerPipeline({ modules: [counter], store });
 * ```
 */
export function defineReducer(options: DefineReducerOptions, fn: ReducerFunction): ReducerSpec {
  return Object.freeze({ [REDUCER_SPEC]: true as const, options: { ...options }, fn });
}

/**
 * Whether `value` was made by {@link defineReducer}.
 *
 * @example
 * ```ts
 * isReducerSpec(defineReducer({ module: 'm', context: 'c', nullState: 0 }, function r() { return [0, 0]; })); // true
 * ```
 */
export function isReducerSpec(value: unknown): value is ReducerSpec {
  return typeof value === 'object' && value !== null && (value as ReducerSpec)[REDUCER_SPEC] === true;
}

/** Anything {@link ReducerRegistry.register} accepts. */
export type ReducerModuleInput = Function | object | ReducerSpec;

const NAME_PART = /^[\p{L}\p{N}_$.<>-]+$/u;

/** Collects reducer definitions before they are all validated together. */
interface Candidate {
  where: string;
  id: string;
  module: string | undefined;
  qualname: string;
  decorator: 'kvsPipeline' | 'studentEventReducer' | 'defineReducer';
  options: KvsPipelineOptions;
  classContext: string | string[] | undefined;
  instance: object | undefined;
  fn: unknown;
  migrate: EventMigrator | undefined;
}

/**
 * Holds validated reducer definitions. `register` takes a decorated module class (instantiated with
 * no arguments), an instance of one (to pass configuration such as thresholds), or a
 * {@link defineReducer} spec, validates everything, and throws one {@link RegistrationError} listing
 * every problem (then nothing is registered).
 *
 * @example
 * ```ts
 * const registry = new ReducerRegistry();
 * registry.register(ToyReducers);
 * registry.register(new TimeOnTask({ thresholdSeconds: 60 }));
 * registry.definitions().map((d) => d.id);
 * ```
 */
export class ReducerRegistry {
  private readonly byId = new Map<string, ReducerDefinition>();

  /** Registers one module (class, instance or spec) and returns its new definitions. */
  register(moduleOrSpec: ReducerModuleInput): ReducerDefinition[] {
    return this.registerAll([moduleOrSpec]);
  }

  /** Registers several modules at once (validated together). */
  registerAll(modules: Iterable<ReducerModuleInput>): ReducerDefinition[] {
    const problems: string[] = [];
    const candidates: Candidate[] = [];
    for (const input of modules) collect(input, candidates, problems);

    const defs: ReducerDefinition[] = [];
    const seen = new Map<string, string>();
    for (const c of candidates) {
      const def = validate(c, problems);
      if (!def) continue;
      const existing = this.byId.get(def.id);
      if (existing) {
        problems.push(`${c.where}: duplicate reducer id ${def.id} (already registered). Give one of them another qualname or module.`);
      } else if (seen.has(def.id)) {
        problems.push(`${c.where}: duplicate reducer id ${def.id} (also declared by ${seen.get(def.id)}). Give one of them another qualname or module.`);
      } else {
        seen.set(def.id, c.where);
        defs.push(def);
      }
    }
    if (problems.length > 0) throw new RegistrationError(problems);
    for (const def of defs) this.byId.set(def.id, def);
    return defs;
  }

  /** Every registered reducer, in registration order. */
  definitions(): ReducerDefinition[] {
    return [...this.byId.values()];
  }

  /** The reducer with this id (`<module>.<qualname>`), if registered. */
  get(id: string): ReducerDefinition | undefined {
    return this.byId.get(id);
  }

  /** Number of registered reducers. */
  get size(): number {
    return this.byId.size;
  }
}

function collect(input: ReducerModuleInput, out: Candidate[], problems: string[]): void {
  if (isReducerSpec(input)) {
    const o = input.options ?? ({} as DefineReducerOptions);
    const qualname = o.qualname ?? input.fn?.name;
    const where = `defineReducer(${describeValue(o.module)}${qualname ? `, ${qualname}` : ''})`;
    if (typeof input.fn !== 'function') {
      problems.push(`${where}: the reducer must be a function (event, state) => [internal, external].`);
      return;
    }
    if (!qualname) {
      problems.push(`${where}: the function has no name; pass \`qualname\`.`);
      return;
    }
    out.push({
      where,
      id: `${o.module}.${qualname}`,
      module: o.module,
      qualname,
      decorator: 'defineReducer',
      options: o,
      classContext: o.context,
      instance: o.thisArg,
      fn: input.fn,
      migrate: checkMigrator(where, o.migrate, problems),
    });
    return;
  }
  let instance: object;
  let ctor: Function;
  if (typeof input === 'function') {
    ctor = input;
    try {
      instance = Reflect.construct(input, []);
    } catch (err) {
      problems.push(`${input.name || 'anonymous class'}: could not be instantiated with no arguments (${(err as Error)?.message ?? String(err)}); register an instance instead.`);
      return;
    }
  } else if (typeof input === 'object' && input !== null) {
    instance = input;
    ctor = input.constructor;
  } else {
    problems.push(`Cannot register ${describeValue(input)}: pass a @reducerModule class, an instance of one, or a defineReducer() spec.`);
    return;
  }
  const className = ctor?.name || 'anonymous class';
  const moduleMeta = typeof ctor === 'function' ? readModuleMetadata(ctor) : undefined;
  const methods = typeof ctor === 'function' ? readReducerMethods(ctor) : [];
  if (methods.length === 0) {
    problems.push(`${className}: no reducers found; decorate its methods with @kvsPipeline or @studentEventReducer.`);
    return;
  }
  const migrate = checkMigrator(`${className} (@reducerModule)`, moduleMeta?.migrate, problems);
  for (const m of methods) {
    const method = String(m.propertyKey);
    const qualname = m.options.qualname ?? method;
    const module = m.options.module ?? moduleMeta?.module;
    out.push({
      where: `${className}.${method}`,
      id: `${module}.${qualname}`,
      module,
      qualname,
      decorator: m.decorator,
      options: m.options,
      classContext: moduleMeta?.context,
      instance,
      fn: (instance as Record<string | symbol, unknown>)[m.propertyKey],
      migrate,
    });
  }
}

/** `migrate` when it is absent or a function; otherwise records a problem. */
function checkMigrator(where: string, migrate: unknown, problems: string[]): EventMigrator | undefined {
  if (migrate === undefined) return undefined;
  if (typeof migrate === 'function') return migrate as EventMigrator;
  problems.push(
    `${where}: migrate must be a function (event) => event that returns the event itself or a changed copy ` +
      `(e.g. withClientFields(event, { doc_id })); got ${describeValue(migrate)}.`,
  );
  return undefined;
}

function jsonProblem(where: string, what: string, value: unknown): string | undefined {
  try {
    assertJsonValue(what, value);
    return undefined;
  } catch (err) {
    if (err instanceof InvalidValueError) {
      return `${where}: ${what} is not JSON (the value at ${err.path} ${err.reason}); use null, booleans, finite numbers, strings, arrays and plain objects.`;
    }
    return `${where}: ${what} is not JSON (${(err as Error).message}).`;
  }
}

function validate(c: Candidate, problems: string[]): ReducerDefinition | undefined {
  const before = problems.length;
  const { where, options } = c;

  if (c.module === undefined || c.module === null || c.module === '') {
    problems.push(
      `${where}: missing module name; decorate the class with @reducerModule('<module>', { context: '<source>' }) or pass \`module\`.`,
    );
  } else if (typeof c.module !== 'string' || !NAME_PART.test(c.module)) {
    problems.push(`${where}: invalid module name ${describeValue(c.module)}; use letters, digits, '.', '_', '-' (e.g. 'writing_observer.writing_analysis').`);
  }
  if (typeof c.qualname !== 'string' || !NAME_PART.test(c.qualname)) {
    problems.push(`${where}: invalid qualname ${describeValue(c.qualname)}; use letters, digits, '.', '_', '-'.`);
  }
  if (problems.length === before) {
    try {
      assertReducerId(c.id);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  }

  if (typeof c.fn !== 'function') {
    problems.push(`${where}: the instance has no method to call (found ${describeValue(c.fn)}).`);
  }

  const rawContext = options.context ?? c.classContext;
  const contexts = typeof rawContext === 'string' ? [rawContext] : rawContext;
  if (contexts === undefined || contexts === null) {
    problems.push(`${where}: missing context; declare the event source(s) with @reducerModule(name, { context: '<source>' }) or the \`context\` option.`);
  } else if (!Array.isArray(contexts) || contexts.length === 0 || contexts.some((s) => typeof s !== 'string' || s.trim() === '')) {
    problems.push(`${where}: bad context ${describeValue(rawContext)}; give a non-empty source string or a non-empty list of them (e.g. 'org.mitros.writing_analytics').`);
  }

  let scope: Scope | undefined;
  if (c.decorator === 'studentEventReducer') {
    if ((options as { scope?: unknown }).scope !== undefined) {
      problems.push(`${where}: @studentEventReducer always uses the student scope; use @kvsPipeline({ scope, ... }) for another scope.`);
    }
    scope = Scope.student();
  } else {
    const raw = options.scope;
    try {
      scope = raw === undefined ? Scope.student() : raw instanceof Scope ? raw : new Scope(raw as Iterable<ScopeField | string>);
    } catch (err) {
      problems.push(`${where}: bad scope: ${(err as Error).message}`);
    }
  }
  if (scope) {
    const unsupported = scope.fields.filter((f) => !(f instanceof EventField) && f !== KeyField.STUDENT);
    if (unsupported.length > 0) {
      problems.push(
        `${where}: unsupported scope field${unsupported.length > 1 ? 's' : ''} ${unsupported.join(', ')} for an event reducer; ` +
          "events only provide STUDENT (from auth metadata) and EventField('<name>') (from the event's client fields).",
      );
    }
  }

  if (!('nullState' in options) || options.nullState === undefined) {
    problems.push(`${where}: missing nullState; give the state before the first event (null is allowed).`);
  } else {
    const p = jsonProblem(where, 'nullState', options.nullState);
    if (p) problems.push(p);
  }
  if (options.default !== undefined) {
    const p = jsonProblem(where, 'default', options.default);
    if (p) problems.push(p);
  }
  if (options.backend !== undefined && (typeof options.backend !== 'string' || options.backend === '')) {
    problems.push(`${where}: backend must be the name of a configured store (e.g. 'redis_cache'); got ${describeValue(options.backend)}.`);
  }

  if (problems.length > before) return undefined;
  const fn = c.fn as ReducerFunction;
  const instance = c.instance;
  const nullState = options.nullState as JsonValue;
  return Object.freeze({
    id: c.id,
    module: c.module as string,
    qualname: c.qualname,
    contexts: Object.freeze([...new Set(contexts as string[])]),
    scope: scope!,
    nullState,
    defaultState: options.default !== undefined ? options.default : nullState,
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
    instance,
    ...(c.migrate !== undefined ? { migrate: c.migrate } : {}),
    invoke: (event: LOEvent, state: unknown) => fn.call(instance, event, state),
  });
}
