import type { OutOfOrderPolicy } from './outOfOrderPolicy';
import { timeBinOf } from './timeBin';

/** State of the binned time-on-task reducer (the original's field names). */
export type BinnedTimeOnTaskState = {
  /** `server.time` (seconds) of the latest event counted; `null` before the first one. */
  saved_ts: number | null;
  /** Seconds on task per bin, keyed by the bin's start in epoch seconds as an integer string. */
  binned_time_on_task: Record<string, number>;
  /** Start of the bin holding `saved_ts`; `null` before the first event. */
  current_bin: number | null;
};

/**
 * State before the first event.
 *
 * @example
 * ```ts
 * emptyBinnedTimeOnTask(); // { saved_ts: null, binned_time_on_task: {}, current_bin: null }
 * ```
 */
export function emptyBinnedTimeOnTask(): BinnedTimeOnTaskState {
  return { saved_ts: null, binned_time_on_task: {}, current_bin: null };
}

function addTo(bins: Record<string, number>, bin: number, seconds: number): void {
  // Indexed by the number itself: the same property as String(bin) (a property key is its
  // string), without making that string and parsing it back as an element index on every event.
  bins[bin] = (bins[bin] ?? 0) + seconds;
}

/**
 * Charges `delta` seconds starting at `start` (inside `startBin`) to the bins. A stretch that
 * reaches the next bin's start is split at the boundary, as the original does (an exact hit
 * creates the next bin with 0). The original splits across one boundary only; with a threshold
 * larger than the bin size we keep splitting, which gives the same numbers whenever
 * `delta <= binSize`.
 */
function chargeInterval(bins: Record<string, number>, startBin: number, start: number, delta: number, binSize: number): void {
  const nextBin = startBin + binSize;
  if (!(start + delta >= nextBin)) {
    addTo(bins, startBin, delta);
    return;
  }
  addTo(bins, startBin, nextBin - start);
  const end = start + delta;
  let bin = nextBin;
  while (end > bin + binSize) {
    addTo(bins, bin, binSize);
    bin += binSize;
  }
  addTo(bins, bin, end - bin);
}

/**
 * Adds one event at `now` (seconds) to a binned time-on-task state: the gap since the previous
 * event, capped at `threshold`, is charged from the previous event's time forward, into the bin
 * of `binSize` seconds it falls in (split where it crosses a bin boundary). The first event adds 0
 * to its bin. A negative gap follows `policy`. Returns a new state, or `undefined` when the event
 * changes nothing (a late event under `'ignore'`).
 *
 * With `reuseBins` the returned state holds `state.binned_time_on_task` itself, updated in place,
 * instead of a copy: for a caller that owns `state` (a reducer gets its own copy of its state from
 * the pipeline), this saves copying every bin on every event.
 *
 * @example
 * ```ts
 * let s = applyBinnedTimeOnTask(null, 1699999790, 60, 600)!; // bins { '1699999200': 0 }
 * s = applyBinnedTimeOnTask(s, 1699999830, 60, 600)!;        // { '1699999200': 10, '1699999800': 30 }
 * ```
 */
export function applyBinnedTimeOnTask(
  state: Partial<BinnedTimeOnTaskState> | null | undefined,
  now: number,
  threshold: number,
  binSize: number,
  policy: OutOfOrderPolicy = 'ignore',
  reuseBins = false,
): BinnedTimeOnTaskState | undefined {
  const savedTs = typeof state?.saved_ts === 'number' ? state.saved_ts : null;
  if (savedTs !== null && now < savedTs && policy === 'ignore') return undefined;
  const old = state?.binned_time_on_task;
  const bins: Record<string, number> = reuseBins && old !== null && typeof old === 'object' ? old : { ...(old ?? {}) };
  const last = savedTs ?? now;
  const currentBin = typeof state?.current_bin === 'number' ? state.current_bin : timeBinOf(last, binSize);
  const delta = Math.min(threshold, now - last);
  chargeInterval(bins, currentBin, last, delta, binSize);
  return { saved_ts: now, binned_time_on_task: bins, current_bin: timeBinOf(now, binSize) };
}
