/**
 * Floor division with Python's `//` semantics for floats (`fmod`, then correct the sign), so bins
 * computed here equal the original's even where `Math.floor(a / b)` would round differently.
 *
 * @example
 * ```ts
 * floorDiv(1699999790, 600); // 2833332
 * floorDiv(-1, 600);         // -1
 * ```
 */
export function floorDiv(a: number, b: number): number {
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && b < 0 !== mod < 0) div -= 1;
  let floor = Math.floor(div);
  if (div - floor > 0.5) floor += 1;
  return floor;
}

/**
 * The start (epoch seconds, an integer) of the bin of `binSize` seconds that holds `timestamp`.
 *
 * @example
 * ```ts
 * timeBinOf(1699999790, 600); // 1699999200
 * timeBinOf(1700000500, 600); // 1700000400
 * ```
 */
export function timeBinOf(timestamp: number, binSize: number): number {
  return Math.trunc(floorDiv(timestamp, binSize) * binSize);
}
