/**
 * Calls `fn` on every item, at most `limit` calls pending at once: a sliding window, where a new
 * call starts as soon as any one ends (fixed chunks would wait for the slowest file of each chunk,
 * leaving the I/O threads idle). Results keep the items' order. Once a call rejects no new call
 * starts, and the returned promise rejects with the first error after the calls already running
 * have settled (so a caller may clean up knowing no file operation of its own is still going on).
 *
 * @example
 * const texts = await mapLimit(files, (f) => readFile(f, 'utf8'), 64);
 */
export async function mapLimit<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, limit: number): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (failure) throw failure.error;
  return out;
}
