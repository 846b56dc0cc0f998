import type { OutOfOrderPolicy } from './outOfOrderPolicy';

/** State of the time-on-task reducer (the original's field names). */
export type TimeOnTaskState = {
  /** `server.time` (seconds) of the latest event counted; `null` before the first one. */
  saved_ts: number | null;
  /** Seconds on task so far. */
  total_time_on_task: number;
};

/**
 * State before the first event.
 *
 * @example
 * ```ts
 * emptyTimeOnTask(); // { saved_ts: null, total_time_on_task: 0 }
 * ```
 */
export function emptyTimeOnTask(): TimeOnTaskState {
  return { saved_ts: null, total_time_on_task: 0 };
}

/**
 * Adds one event at `now` (seconds) to a time-on-task state. The first event adds 0; each later
 * one adds `min(threshold, now - saved_ts)`, so an idle stretch counts at most `threshold`
 * seconds. A negative gap follows `policy` (see {@link OutOfOrderPolicy}). Returns a new state, or
 * `undefined` when the event changes nothing (a late event under `'ignore'`). `null` or a
 * partial state counts as empty.
 *
 * @example
 * ```ts
 * let s = applyTimeOnTask(null, 1000, 60)!;  // { saved_ts: 1000, total_time_on_task: 0 }
 * s = applyTimeOnTask(s, 1010, 60)!;          // total 10
 * s = applyTimeOnTask(s, 1100, 60)!;          // total 70 (a 90 s gap counts 60)
 * ```
 */
export function applyTimeOnTask(
  state: Partial<TimeOnTaskState> | null | undefined,
  now: number,
  threshold: number,
  policy: OutOfOrderPolicy = 'ignore',
): TimeOnTaskState | undefined {
  const last = typeof state?.saved_ts === 'number' ? state.saved_ts : null;
  const total = typeof state?.total_time_on_task === 'number' ? state.total_time_on_task : 0;
  if (last !== null && now < last && policy === 'ignore') return undefined;
  const delta = Math.min(threshold, now - (last ?? now));
  return { saved_ts: now, total_time_on_task: total + delta };
}
