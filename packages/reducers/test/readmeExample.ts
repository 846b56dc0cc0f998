// The README's "Writing a reducer" example, verbatim (readmeExample.test.ts checks that the README
// block equals this file below these comment lines, and runs it).
import 'reflect-metadata';
import { reducerModule, studentEventReducer, kvsPipeline, Scope, KeyField, EventField,
  type LOEvent, type ReducerOutput } from '@learning-observer/reducers';

type Tot = { saved_ts: number | null; total_time_on_task: number };

@reducerModule('writing_observer.writing_analysis', { context: 'org.mitros.writing_analytics' })
export class WritingAnalysis {
  constructor(readonly thresholdSeconds = 60) {}        // configuration, reachable as `this`

  @kvsPipeline({
    scope: new Scope([KeyField.STUDENT, new EventField('doc_id')]),
    nullState: { saved_ts: null, total_time_on_task: 0 },
  })
  time_on_task(event: LOEvent, state: Tot): ReducerOutput {
    const now = event.server?.time ?? 0;
    const gap = state.saved_ts === null ? 0 : Math.max(0, now - state.saved_ts);
    const next = { saved_ts: now, total_time_on_task: state.total_time_on_task + Math.min(this.thresholdSeconds, gap) };
    return [next, { total_time_on_task: next.total_time_on_task }];  // [internal, external]
  }

  @studentEventReducer({ nullState: { count: 0 } })
  event_count(_event: LOEvent, state: { count: number }): ReducerOutput {
    return [{ count: state.count + 1 }, false];                    // false: do not write external
  }
}
