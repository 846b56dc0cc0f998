/**
 * What the time-on-task reducers do with an event whose `server.time` is earlier than the
 * previous event's (a negative gap: events replayed out of order, clock changes, merged logs).
 *
 * - `'ignore'` (our default): the late event adds nothing and leaves the state as it was, so
 *   `saved_ts` never moves backwards and the next in-order event is charged from the latest time
 *   seen. Totals only grow.
 * - `'subtract'`: the original's behaviour. The negative gap is added (the total shrinks) and
 *   `saved_ts` moves back to the late event's time, so the next event is charged from there.
 *
 * @example
 * ```ts
 * const policy: OutOfOrderPolicy = 'subtract'; // reproduce the original's numbers exactly
 * ```
 */
export type OutOfOrderPolicy = 'ignore' | 'subtract';

/**
 * The accepted {@link OutOfOrderPolicy} values.
 *
 * @example
 * ```ts
 * OUT_OF_ORDER_POLICIES.includes('subtract'); // true
 * ```
 */
export const OUT_OF_ORDER_POLICIES: readonly OutOfOrderPolicy[] = ['ignore', 'subtract'];
