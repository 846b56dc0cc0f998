import {
  applyBinnedTimeOnTask,
  applyTimeOnTask,
  floorDiv,
  timeBinOf,
  type BinnedTimeOnTaskState,
  type OutOfOrderPolicy,
  type TimeOnTaskState,
} from '../../src/modules';

function runTimeOnTask(times: number[], policy: OutOfOrderPolicy, threshold = 60): TimeOnTaskState[] {
  const states: TimeOnTaskState[] = [];
  let state: TimeOnTaskState | null = null;
  for (const t of times) {
    state = applyTimeOnTask(state, t, threshold, policy) ?? state;
    states.push(state!);
  }
  return states;
}

function runBinned(times: number[], policy: OutOfOrderPolicy, threshold = 60, bin = 600): BinnedTimeOnTaskState[] {
  const states: BinnedTimeOnTaskState[] = [];
  let state: BinnedTimeOnTaskState | null = null;
  for (const t of times) {
    state = applyBinnedTimeOnTask(state, t, threshold, bin, policy) ?? state;
    states.push(state!);
  }
  return states;
}

describe('time on task (reference vector, threshold 60)', () => {
  const times = [1000, 1010, 1100, 1105.5, 1090];

  it("reproduces the original's totals with outOfOrder 'subtract'", () => {
    expect(runTimeOnTask(times, 'subtract')).toEqual([
      { saved_ts: 1000, total_time_on_task: 0 },
      { saved_ts: 1010, total_time_on_task: 10 },
      { saved_ts: 1100, total_time_on_task: 70 },
      { saved_ts: 1105.5, total_time_on_task: 75.5 },
      { saved_ts: 1090, total_time_on_task: 60 },
    ]);
  });

  it("ignores a late event by default: no change, saved_ts does not move back", () => {
    const states = runTimeOnTask(times, 'ignore');
    expect(states.map((s) => s.total_time_on_task)).toEqual([0, 10, 70, 75.5, 75.5]);
    expect(states[4]).toEqual({ saved_ts: 1105.5, total_time_on_task: 75.5 });
    expect(applyTimeOnTask(states[3], 1090, 60)).toBeUndefined();
    // The next in-order event is charged from the latest time seen (1105.5), not from 1090.
    expect(applyTimeOnTask(states[4], 1106, 60)).toEqual({ saved_ts: 1106, total_time_on_task: 76 });
  });

  it("under 'subtract' the next event is charged from the late event's time", () => {
    const states = runTimeOnTask([...times, 1106], 'subtract');
    expect(states[5]).toEqual({ saved_ts: 1106, total_time_on_task: 76 });
  });

  it('caps each gap at the threshold and counts equal timestamps as 0', () => {
    expect(runTimeOnTask([0, 0, 5, 1000], 'ignore', 5).map((s) => s.total_time_on_task)).toEqual([0, 0, 5, 10]);
  });

  it('reads a stored state of the original (saved_ts null or a number)', () => {
    expect(applyTimeOnTask({ saved_ts: null, total_time_on_task: 0 }, 7, 60)).toEqual({ saved_ts: 7, total_time_on_task: 0 });
    expect(applyTimeOnTask({ saved_ts: 0 }, 30, 60)).toEqual({ saved_ts: 30, total_time_on_task: 30 });
    expect(applyTimeOnTask(undefined, 7, 60)).toEqual({ saved_ts: 7, total_time_on_task: 0 });
  });
});

describe('binned time on task (reference vector, threshold 60, bin 600)', () => {
  const times = [1699999790, 1699999795, 1699999830, 1700000500, 1700000520];

  it('produces exactly the reference bins and current_bin after each event', () => {
    expect(runBinned(times, 'ignore')).toEqual([
      { saved_ts: 1699999790, binned_time_on_task: { '1699999200': 0 }, current_bin: 1699999200 },
      { saved_ts: 1699999795, binned_time_on_task: { '1699999200': 5 }, current_bin: 1699999200 },
      { saved_ts: 1699999830, binned_time_on_task: { '1699999200': 10, '1699999800': 30 }, current_bin: 1699999800 },
      { saved_ts: 1700000500, binned_time_on_task: { '1699999200': 10, '1699999800': 90 }, current_bin: 1700000400 },
      {
        saved_ts: 1700000520,
        binned_time_on_task: { '1699999200': 10, '1699999800': 90, '1700000400': 20 },
        current_bin: 1700000400,
      },
    ]);
    // Same numbers under the original's policy: no negative gap here.
    expect(runBinned(times, 'subtract')).toEqual(runBinned(times, 'ignore'));
  });

  it('an idle gap is charged from the previous event into its bin (not the new one)', () => {
    const states = runBinned([1699999830, 1700000500], 'ignore');
    expect(states[1].binned_time_on_task).toEqual({ '1699999800': 60 });
  });

  it('a gap ending exactly on a boundary creates the next bin with 0, as the original', () => {
    expect(runBinned([1699999790, 1699999800], 'ignore')[1].binned_time_on_task).toEqual({ '1699999200': 10, '1699999800': 0 });
  });

  it('splits across several bins when the threshold exceeds the bin size', () => {
    expect(runBinned([0, 200], 'ignore', 300, 60)[1].binned_time_on_task).toEqual({ '0': 60, '60': 60, '120': 60, '180': 20 });
  });

  it("negative gap: 'ignore' leaves the state; 'subtract' takes it from the previous event's bin", () => {
    const times2 = [1699999830, 1699999850, 1699999790];
    const ignored = runBinned(times2, 'ignore');
    expect(ignored[2]).toEqual(ignored[1]);
    expect(runBinned(times2, 'subtract')[2]).toEqual({
      saved_ts: 1699999790,
      binned_time_on_task: { '1699999800': -40 },
      current_bin: 1699999200,
    });
  });

  it('handles fractional timestamps', () => {
    expect(runBinned([599.5, 600.25], 'ignore')[1]).toEqual({
      saved_ts: 600.25,
      binned_time_on_task: { '0': 0.5, '600': 0.25 },
      current_bin: 600,
    });
  });
});

describe('binned time on task with reuseBins (what the reducer uses on its own copy of the state)', () => {
  it('gives the same states as the copying form, updating the bins object it was given', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const policy of ['ignore', 'subtract'] as const) {
      let t = 1699999000;
      const times = Array.from({ length: 400 }, () => (t += Math.floor(random() * 200) - (random() < 0.1 ? 150 : 0)));
      const pure = runBinned(times, policy);
      let state: BinnedTimeOnTaskState | null = null;
      times.forEach((time, i) => {
        const input = state === null ? null : (JSON.parse(JSON.stringify(state)) as BinnedTimeOnTaskState); // the reducer's own copy
        const next = applyBinnedTimeOnTask(input, time, 60, 600, policy, true);
        if (next !== undefined && input !== null) expect(next.binned_time_on_task).toBe(input.binned_time_on_task);
        state = next ?? state;
        expect(state).toEqual(pure[i]);
      });
    }
  });
});

describe('timeBinOf / floorDiv', () => {
  it("matches Python's // for floats, negatives and exact multiples", () => {
    expect(floorDiv(1699999790, 600)).toBe(2833332);
    expect(floorDiv(-1, 600)).toBe(-1);
    expect(floorDiv(-600, 600)).toBe(-1);
    expect(floorDiv(0.3, 0.1)).toBe(2);
    expect(timeBinOf(1700000400, 600)).toBe(1700000400);
    expect(timeBinOf(1700000399.999, 600)).toBe(1699999800);
    expect(timeBinOf(-1, 600)).toBe(-600);
  });
});
