/**
 * A copy of `source` as an object without a prototype, so ids taken from events (even
 * `__proto__` or `constructor`) are plain keys. Serialises as ordinary JSON.
 *
 * @example
 * ```ts
 * const d = copyDict<number>({ a: 1 });
 * d['__proto__'] = 2; // an ordinary key
 * ```
 */
export function copyDict<T>(source: { [key: string]: T } | null | undefined): { [key: string]: T } {
  const dict = Object.create(null) as { [key: string]: T };
  if (source && typeof source === 'object') {
    for (const key of Object.keys(source)) dict[key] = source[key];
  }
  return dict;
}
