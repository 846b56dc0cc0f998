// The README's "Writing a reducer" example, kept compiling and checked against the original's
// time-on-task vector (threshold 60 s).
import { EventField, KeyField, Scope, kvsPipeline, reducerModule, runReducers, studentEventReducer, type LOEvent, type ReducerOutput } from '@learning-observer/reducers';

type Tot = { saved_ts: number | null; total_time_on_task: number };

@reducerModule('writing_observer.writing_analysis', { context: 'org.mitros.writing_analytics' })
class WritingAnalysis {
  constructor(readonly thresholdSeconds = 60) {}

  @kvsPipeline({
    scope: new Scope([KeyField.STUDENT, new EventField('doc_id')]),
    nullState: { saved_ts: null, total_time_on_task: 0 },
  })
  time_on_task(event: LOEvent, state: Tot): ReducerOutput {
    const now = event.server?.time ?? 0;
    const gap = state.saved_ts === null ? 0 : Math.max(0, now - state.saved_ts);
    const next = { saved_ts: now, total_time_on_task: state.total_time_on_task + Math.min(this.thresholdSeconds, gap) };
    return [next, { total_time_on_task: next.total_time_on_task }];
  }

  @studentEventReducer({ nullState: { count: 0 } })
  event_count(_event: LOEvent, state: { count: number }): ReducerOutput {
    return [{ count: state.count + 1 }, false];
  }
}

test('README example: time on task per student and document', async () => {
  const totals: number[] = [];
  for (const [i, time] of [1000, 1010, 1100, 1105.5, 1090].entries()) {
    const events = [1000, 1010, 1100, 1105.5, 1090].slice(0, i + 1).map((t) => ({
      client: { source: 'org.mitros.writing_analytics', event: 'keystroke', doc_id: 'D1' },
      metadata: { auth: { safe_user_id: 's1' } },
      server: { time: t },
    }));
    const run = await runReducers(WritingAnalysis, events);
    totals.push(((await run.external('time_on_task', { STUDENT: 's1', 'EventField.doc_id': 'D1' })) as Tot).total_time_on_task);
    expect(await run.internal('event_count', { STUDENT: 's1' })).toEqual({ count: i + 1 });
    expect(await run.external('event_count', { STUDENT: 's1' })).toBeUndefined();
    expect(time).toBeGreaterThan(0);
  }
  // the original gives 0, 10, 70, 75.5, 60 (it subtracts the negative gap); this example clamps it
  expect(totals).toEqual([0, 10, 70, 75.5, 75.5]);
});
