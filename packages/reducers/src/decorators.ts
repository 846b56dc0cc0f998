import 'reflect-metadata';
import type { JsonValue } from '@learning-observer/kvs';
import { DecoratorModeError, DecoratorUsageError } from './errors';
import type { Scope, ScopeField } from './fields';
import type { LOEvent } from './events';
import type { EventMigrator } from './eventMigrator';

/** Metadata key of `@reducerModule` (on the class). */
export const REDUCER_MODULE_METADATA = 'learning-observer:reducer-module';
/** Metadata key of the reducer methods declared by a class (on its prototype, own only). */
export const REDUCER_METHODS_METADATA = 'learning-observer:reducer-methods';

/**
 * What a reducer returns: the new internal state and the new external state, either of which may
 * be the literal `false` for "do not write it".
 */
export type ReducerOutput = [JsonValue | false, JsonValue | false];

/** A reducer: `(event, internalState) => [internal, external]`, sync or async. */
export type ReducerFunction<S = any> = (event: LOEvent, internalState: S) => ReducerOutput | Promise<ReducerOutput>;

/** Options of {@link reducerModule}. */
export interface ReducerModuleOptions {
  /** Event source(s) the module's reducers listen to, e.g. `org.mitros.writing_analytics`. */
  context: string | string[];
  /**
   * Rewrites each event before the module's reducers are keyed and called (the original's
   * `add_common_migrator`), e.g. to fill `client.doc_id` from `client.object`. Copy-on-write: see
   * {@link EventMigrator}. A subclass without its own `@reducerModule` inherits it.
   */
  migrate?: EventMigrator;
}

/** What `@reducerModule` records on the class. */
export interface ReducerModuleMetadata {
  module: string;
  context: string | string[] | undefined;
  migrate?: EventMigrator;
}

/** Options of {@link kvsPipeline}. */
export interface KvsPipelineOptions {
  /** Fields the state is keyed by. Default: student scope (`[KeyField.STUDENT]`), as in the original. */
  scope?: Scope | Iterable<ScopeField | string>;
  /** State before the first event (a deep copy is handed to the reducer; `null` is allowed). */
  nullState: JsonValue;
  /** Overrides the key's module segment (default: the class's `@reducerModule` name). */
  module?: string;
  /** Overrides the key's qualname segment (default: the method name). */
  qualname?: string;
  /** Overrides the class's context(s) for this reducer. */
  context?: string | string[];
  /** Name of a configured store (`KVS.<name>()`) for this reducer's state; default: the pipeline's store. */
  backend?: string;
  /** External state dashboards show for a student with no state yet (default: `nullState`). */
  default?: JsonValue;
}

/** Options of {@link studentEventReducer}: those of {@link kvsPipeline} without `scope`. */
export type StudentEventReducerOptions = Omit<KvsPipelineOptions, 'scope'>;

/** What the method decorators record for one method. */
export interface ReducerMethodMetadata {
  /** The method's property name. */
  propertyKey: string | symbol;
  /** Which decorator recorded it. */
  decorator: 'kvsPipeline' | 'studentEventReducer';
  options: KvsPipelineOptions;
}

function isTc39Context(arg: unknown): boolean {
  return typeof arg === 'object' && arg !== null && 'kind' in arg;
}

/**
 * Class decorator: names the reducer module (the first part of every reducer id, e.g.
 * `writing_observer.writing_analysis`), the event source(s) its reducers listen to (the
 * original's `context`) and, optionally, an event migrator (`migrate`) applied to each event
 * before the module's reducers see it. Only records metadata; `ReducerRegistry.register`
 * validates it.
 *
 * @example
 * ```ts
 * @reducerModule('lo_toy_sba.reducers', { context: 'org.ets.sba' })
 * class ToyReducers {
 *   @studentEventReducer({ nullState: { count: 0 } })
 *   student_event_counter(event: LOEvent, state: { count: number }): ReducerOutput {
 *     const next = { count: state.count + 1 };
 *     return [next, next];
 *   }
 * }
 *
 * // With a migrator: keystrokes that only carry client.object get a client.doc_id first.
 * @reducerModule('writing_observer.writing_analysis', { context: 'org.mitros.writing_analytics', migrate: docIdFromDocumentLink })
 * class Writing { ... }
 * ```
 */
export function reducerModule(moduleName: string, options?: ReducerModuleOptions): ClassDecorator {
  return function decorate(target: Function, ...rest: unknown[]): void {
    if (isTc39Context(rest[0])) throw new DecoratorModeError('reducerModule');
    if (typeof target !== 'function') {
      throw new DecoratorUsageError('@reducerModule decorates a class.');
    }
    const meta: ReducerModuleMetadata = { module: moduleName, context: options?.context };
    if (options?.migrate !== undefined) meta.migrate = options.migrate;
    Reflect.defineMetadata(REDUCER_MODULE_METADATA, meta, target);
  } as ClassDecorator;
}

function methodDecorator(name: ReducerMethodMetadata['decorator'], options: KvsPipelineOptions): MethodDecorator {
  return function decorate(target: object, propertyKey: unknown, descriptor?: unknown): void {
    if (isTc39Context(propertyKey)) throw new DecoratorModeError(name);
    if (typeof target === 'function') {
      throw new DecoratorUsageError(`@${name} decorates instance methods; ${String(propertyKey)} is static. Make it an instance method.`);
    }
    const desc = descriptor as PropertyDescriptor | undefined;
    if (!desc || typeof desc.value !== 'function') {
      throw new DecoratorUsageError(`@${name} decorates methods; ${String(propertyKey)} is not a method (a property, getter or setter).`);
    }
    const own: ReducerMethodMetadata[] = Reflect.getOwnMetadata(REDUCER_METHODS_METADATA, target) ?? [];
    const entry: ReducerMethodMetadata = { propertyKey: propertyKey as string | symbol, decorator: name, options: { ...(options ?? {}) } as KvsPipelineOptions };
    Reflect.defineMetadata(REDUCER_METHODS_METADATA, [...own.filter((m) => m.propertyKey !== propertyKey), entry], target);
  } as MethodDecorator;
}

/**
 * Method decorator: declares a reducer keyed by `scope` (student, event fields such as
 * `doc_id`...). The method is `(event, internalState) => [internal, external]` (or a Promise of
 * that), called with the instance as `this`; return `false` for a state you do not want written.
 *
 * @example
 * ```ts
 * @reducerModule('writing_observer.writing_analysis', { context: 'org.mitros.writing_analytics' })
 * class Writing {
 *   @kvsPipeline({ scope: new Scope([KeyField.STUDENT, new EventField('doc_id')]), nullState: { count: 0 } })
 *   edits(event: LOEvent, state: { count: number }): ReducerOutput {
 *     return [{ count: state.count + 1 }, false];
 *   }
 * }
 * ```
 */
export function kvsPipeline(options: KvsPipelineOptions): MethodDecorator {
  return methodDecorator('kvsPipeline', options);
}

/**
 * Method decorator: a reducer keyed by student only (`@kvsPipeline` with student scope), like the
 * original's `student_event_reducer`.
 *
 * @example
 * ```ts
 * @reducerModule('lo_toy_sba.reducers', { context: 'org.ets.sba' })
 * class Counter {
 *   @studentEventReducer({ nullState: { count: 0 } })
 *   student_event_counter(_event: LOEvent, state: { count: number }): ReducerOutput {
 *     return [{ count: state.count + 1 }, { count: state.count + 1 }];
 *   }
 * }
 * ```
 */
export function studentEventReducer(options: StudentEventReducerOptions): MethodDecorator {
  return methodDecorator('studentEventReducer', options as KvsPipelineOptions);
}

/**
 * The `@reducerModule` metadata of a class, searching up its class hierarchy (a subclass without
 * its own `@reducerModule` inherits its parent's).
 *
 * @example
 * ```ts
 * readModuleMetadata(ToyReducers)?.module; // 'lo_toy_sba.reducers'
 * ```
 */
export function readModuleMetadata(ctor: Function): ReducerModuleMetadata | undefined {
  return Reflect.getMetadata(REDUCER_MODULE_METADATA, ctor);
}

/**
 * The reducer methods of a class and its ancestors, ancestors first; a method decorated again in a
 * subclass replaces the ancestor's entry (keeping its position).
 *
 * @example
 * ```ts
 * readReducerMethods(ToyReducers).map((m) => m.propertyKey); // ['student_event_counter']
 * ```
 */
export function readReducerMethods(ctor: Function): ReducerMethodMetadata[] {
  const chain: object[] = [];
  for (let proto = ctor.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    chain.unshift(proto);
  }
  const byKey = new Map<string | symbol, ReducerMethodMetadata>();
  for (const proto of chain) {
    const own: ReducerMethodMetadata[] | undefined = Reflect.getOwnMetadata(REDUCER_METHODS_METADATA, proto);
    for (const entry of own ?? []) byKey.set(entry.propertyKey, entry);
  }
  return [...byKey.values()];
}
