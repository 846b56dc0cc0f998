import type { ReducerDefinition } from '@learning-observer/reducers';

/**
 * What the query package needs to know about a reducer: its id, scope (key field names), null
 * state (missing internal state) and declared default (missing external state), and the named
 * store it writes to. Every `ReducerDefinition` of `@learning-observer/reducers` is one.
 */
export type ReducerInfo = Pick<ReducerDefinition, 'id' | 'scope' | 'nullState' | 'defaultState' | 'backend'>;

/**
 * Where reducer ids are resolved: a `ReducerRegistry` (anything with `get(id)`), or a list of
 * definitions.
 */
export type ReducerSource = { get(id: string): ReducerInfo | undefined } | Iterable<ReducerInfo>;

/**
 * The reducer with id `id` in `source`, or `undefined` (also when `get` throws for unknown ids).
 *
 * @example
 * ```ts
 * lookupReducer(registry, 'my_module.event_count');
 * ```
 */
export function lookupReducer(source: ReducerSource | undefined, id: string): ReducerInfo | undefined {
  if (source === undefined) return undefined;
  if (typeof (source as { get?: unknown }).get === 'function') {
    try {
      return (source as { get(id: string): ReducerInfo | undefined }).get(id) ?? undefined;
    } catch {
      return undefined;
    }
  }
  for (const def of source as Iterable<ReducerInfo>) if (def.id === id) return def;
  return undefined;
}

/**
 * The key names a `keys` node fills from `STUDENTS` and `RESOURCES` for a reducer's scope.
 *
 * @example
 * ```ts
 * scopeSlots(docReducer); // { student: 'STUDENT', resource: 'EventField.doc_id', others: [] }
 * ```
 */
export function scopeSlots(reducer: ReducerInfo): { student?: string; resource?: string; others: string[] } {
  const names = [...reducer.scope.keyNames];
  const student = names.includes('STUDENT') ? 'STUDENT' : undefined;
  const resource = names.includes('EventField.doc_id') ? 'EventField.doc_id' : names.includes('RESOURCE') ? 'RESOURCE' : undefined;
  return { student, resource, others: names.filter((n) => n !== student && n !== resource) };
}
