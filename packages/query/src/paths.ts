/** The result of {@link getPath}: whether the path exists, and the value there. */
export type PathLookup = { found: true; value: unknown } | { found: false; missing: string };

/**
 * Follows a dotted path (`'provenance.key'`) through plain objects; `''` is the value itself.
 * Array items are reached with numeric segments (`'rows.0.id'`). Reports the first missing segment.
 *
 * @example
 * ```ts
 * getPath({ a: { b: 1 } }, 'a.b'); // { found: true, value: 1 }
 * getPath({ a: {} }, 'a.b');       // { found: false, missing: 'a.b' }
 * ```
 */
export function getPath(value: unknown, path: string | undefined): PathLookup {
  if (path === undefined || path === '') return { found: true, value };
  return getPathSegments(value, pathSegments(path));
}

/**
 * A dotted path split at its dots, as {@link getPathSegments} takes it (`''` or none: `[]`, the
 * value itself). For a caller that follows one path through many rows.
 *
 * @example
 * ```ts
 * pathSegments('provenance.key'); // ['provenance', 'key']
 * pathSegments(undefined);        // []
 * ```
 */
export function pathSegments(path: string | undefined): string[] {
  return path === undefined || path === '' ? [] : path.split('.');
}

/**
 * {@link getPath} with the path already split at its dots (`[]` is the value itself): for a
 * caller that follows the same path through many rows and splits it once.
 *
 * @example
 * ```ts
 * const segments = 'a.b'.split('.');
 * rows.map((row) => getPathSegments(row, segments));
 * ```
 */
export function getPathSegments(value: unknown, segments: readonly string[]): PathLookup {
  let current: unknown = value;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (typeof current !== 'object' || current === null || !Object.prototype.hasOwnProperty.call(current, segment)) {
      return { found: false, missing: segments.slice(0, i + 1).join('.') };
    }
    current = (current as Record<string, unknown>)[segment];
  }
  return { found: true, value: current };
}

/**
 * Whether `value` is a plain object (not an array, not null, not a class instance). Objects made
 * in another realm (`structuredClone` under some test runners, `vm` contexts) count as plain.
 *
 * @example
 * ```ts
 * isPlainObject({ a: 1 }); // true
 * isPlainObject([1]);      // false
 * ```
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/**
 * Sets `out[key] = value` as an own data property, also for the key `__proto__` (which plain
 * assignment would turn into the object's prototype). For copying rows that came from JSON.
 *
 * @example
 * ```ts
 * const row = {};
 * setOwn(row, '__proto__', { a: 1 }); // an own key, like JSON.parse('{"__proto__":{"a":1}}') makes
 * ```
 */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
