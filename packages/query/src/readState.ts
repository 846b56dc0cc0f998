import { cloneJson, type JsonValue } from '@learning-observer/kvs';
import { KeyStateType, makeKey } from '@learning-observer/reducers';
import { KeyFieldsError, UnknownReducerError } from './errors';
import { lookupReducer, type ReducerInfo, type ReducerSource } from './reducerSource';
import { storeFor, type StoreOptions } from './stores';

/** Options of {@link readState} and {@link readStates}. */
export interface ReadStateOptions extends StoreOptions {
  /** Resolves a reducer given by id (a `ReducerRegistry` or a list of definitions). */
  reducers?: ReducerSource;
  /**
   * Read the internal state (the reducer's working memory) instead of the external state
   * dashboards normally read. Missing internal state reads as a copy of the reducer's `nullState`.
   */
  internal?: boolean;
}

/**
 * A reducer definition whose state type is known, for typed reads. Any `ReducerDefinition` can
 * be passed where this is expected by naming the type: `readState<{ count: number }>(def, ...)`.
 */
export type TypedReducer<S> = Omit<ReducerInfo, 'defaultState'> & { readonly defaultState: S };

function resolveReducer(reducer: ReducerInfo | string, reducers: ReducerSource | undefined): ReducerInfo {
  if (typeof reducer !== 'string') return reducer;
  if (reducers === undefined) {
    throw new UnknownReducerError(reducer, 'pass the reducer definition itself, or { reducers: registry } to look the id up.');
  }
  const def = lookupReducer(reducers, reducer);
  if (!def) throw new UnknownReducerError(reducer, 'the reducer registry given in { reducers } does not know it; register its module first.');
  return def;
}

function checkFields(reducer: ReducerInfo, fields: Readonly<Record<string, string>>, index: number | undefined): void {
  const where = index === undefined ? '' : ` (entry ${index})`;
  if (typeof fields !== 'object' || fields === null) {
    throw new KeyFieldsError(`Key fields${where} for ${reducer.id} must be an object such as { STUDENT: 's1' }.`);
  }
  const expected = [...reducer.scope.keyNames];
  const given = Object.keys(fields);
  const missing = expected.filter((n) => !given.includes(n));
  const extra = given.filter((n) => !expected.includes(n));
  if (missing.length || extra.length) {
    throw new KeyFieldsError(
      `Key fields${where} do not match reducer ${reducer.id}, which is keyed by ${expected.join(', ')}` +
        (missing.length ? `; missing ${missing.join(', ')}` : '') +
        (extra.length ? `; not in its scope: ${extra.join(', ')}` : '') +
        `. Pass exactly { ${expected.map((n) => `${JSON.stringify(n)}: ...`).join(', ')} }.`,
    );
  }
}

/**
 * Reads one reducer's state for many sets of key fields (e.g. every student of a class) in ONE
 * `multiget` (one MGET on Redis), aligned with `fieldsList`. Missing state reads as a deep copy of
 * the reducer's declared default (`defaultState`; `nullState` when `internal` is set). Reads the
 * external state unless `internal: true`. Throws `KeyFieldsError` when an entry's fields do not
 * match the reducer's scope.
 *
 * @example
 * ```ts
 * const counts = await readStates<{ count: number }>(
 *   'lo_toy_sba.reducers.student_event_counter',
 *   roster.map((s) => ({ STUDENT: s.user_id })),
 *   { reducers: registry, store },
 * );
 * ```
 */
export async function readStates<S>(reducer: TypedReducer<S>, fieldsList: readonly Readonly<Record<string, string>>[], options?: ReadStateOptions): Promise<S[]>;
export async function readStates<S = JsonValue>(
  reducer: ReducerInfo | string,
  fieldsList: readonly Readonly<Record<string, string>>[],
  options?: ReadStateOptions,
): Promise<S[]>;
export async function readStates(
  reducer: ReducerInfo | string,
  fieldsList: readonly Readonly<Record<string, string>>[],
  options: ReadStateOptions = {},
): Promise<unknown[]> {
  const def = resolveReducer(reducer, options.reducers);
  if (!Array.isArray(fieldsList)) throw new KeyFieldsError(`readStates(${def.id}, fieldsList): fieldsList must be a list of key-field objects.`);
  fieldsList.forEach((fields, i) => checkFields(def, fields, i));
  if (fieldsList.length === 0) return [];
  const stateType = options.internal ? KeyStateType.INTERNAL : KeyStateType.EXTERNAL;
  const keys = fieldsList.map((fields) => makeKey(def.id, fields, stateType));
  const values = await storeFor(def.backend, options).multiget(keys);
  const fallback = options.internal ? def.nullState : def.defaultState;
  return values.map((value) => (value === undefined ? cloneJson(fallback) : value));
}

/**
 * Reads one reducer's state for one set of key fields: the external state unless
 * `internal: true`; missing state reads as a deep copy of the reducer's declared default.
 * The state type is inferred from a typed definition, or named: `readState<{ count: number }>(...)`.
 *
 * @example
 * ```ts
 * const state = await readState<{ count: number }>(counterDef, { STUDENT: 's1' }, { store });
 * state.count;
 * ```
 */
export async function readState<S>(reducer: TypedReducer<S>, fields: Readonly<Record<string, string>>, options?: ReadStateOptions): Promise<S>;
export async function readState<S = JsonValue>(reducer: ReducerInfo | string, fields: Readonly<Record<string, string>>, options?: ReadStateOptions): Promise<S>;
export async function readState(reducer: ReducerInfo | string, fields: Readonly<Record<string, string>>, options: ReadStateOptions = {}): Promise<unknown> {
  const def = resolveReducer(reducer, options.reducers);
  checkFields(def, fields, undefined);
  const [state] = await readStates(def, [fields], options);
  return state;
}
