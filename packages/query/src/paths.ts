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
  let current: unknown = value;
  const segments = path.split('.');
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
  return proto === null || Object.getPrototypeOf(proto) === null;
}
