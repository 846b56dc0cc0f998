import { isPlainObject } from '../paths';

/** `item` without its `provenance` field (non-objects are returned as they are). */
export function withoutProvenance(item: unknown): unknown {
  if (!isPlainObject(item) || !('provenance' in item)) return item;
  const { provenance: _dropped, ...rest } = item;
  return rest;
}

/** The `provenance` field of an item, or `{}`. */
export function provenanceOf(item: unknown): unknown {
  return isPlainObject(item) && item.provenance !== undefined ? item.provenance : {};
}

/**
 * Removes the top-level `provenance` field of a row, or of every row of a list, for clients that
 * do not need to join rows back.
 *
 * @example
 * ```ts
 * stripProvenance([{ count: 1, provenance: { key: 'External,m.c,STUDENT:s1' } }]); // [{ count: 1 }]
 * ```
 */
export function stripProvenance<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => withoutProvenance(item)) as T;
  return withoutProvenance(value) as T;
}
