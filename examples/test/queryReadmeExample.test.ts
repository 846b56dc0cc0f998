import { InMemoryKVS } from '@learning-observer/kvs';
import { ReducerRegistry, runReducers, type LOEvent } from '@learning-observer/reducers';
import { QueryEngine, studentReducerQuery } from '@learning-observer/query';
import { ToyCounterModule } from '@learning-observer/examples';

// The dashboard query of packages/query/README.md ("A dashboard query"), run for real on the toy
// counter: the rows must look like the ones the README shows.
const click = (student: string): LOEvent =>
  ({ client: { source: 'org.ets.sba', event: 'click' }, metadata: { auth: { safe_user_id: student } } }) as LOEvent;

describe('packages/query README: roster dashboard query over the toy counter', () => {
  test('one row per roster row, in roster order, with the state (or the default), the roster fields and provenance', async () => {
    const store = new InMemoryKVS();
    const run = await runReducers(ToyCounterModule, [click('s1'), click('s1'), click('s3'), click('s1')], { store });
    expect(run.errors).toEqual([]);

    const registry = new ReducerRegistry();
    registry.register(ToyCounterModule);
    const engine = new QueryEngine({ reducers: registry, store });
    const rosters: Record<string, object[]> = {
      'course-7': [
        { user_id: 's1', profile: { name: { full_name: 'Ana' } } },
        { user_id: 's2', profile: { name: { full_name: 'Bo' } } },
        { user_id: 's3', profile: { name: { full_name: 'Cy' } } },
      ],
    };
    engine.publishFunction('learning_observer.courseroster', async (courseId: string) => rosters[courseId] ?? []);
    engine.publishQuery('event_counts', studentReducerQuery('lo_toy_sba.reducers.student_event_counter'));

    const { student_event_counter_export: rows } = await engine.execute('event_counts', {
      exports: ['student_event_counter_export'],
      parameters: { course_id: 'course-7' },
    });
    const row = (id: string, name: string, count: number) => ({
      count,
      user_id: id,
      profile: { name: { full_name: name } },
      provenance: {
        key: `External,lo_toy_sba.reducers.student_event_counter,STUDENT:${id}`,
        provenance: { STUDENT: { value: { user_id: id, profile: { name: { full_name: name } } }, user_id: id } },
      },
    });
    expect(rows).toEqual([row('s1', 'Ana', 3), row('s2', 'Bo', 0), row('s3', 'Cy', 1)]);
  });
});
