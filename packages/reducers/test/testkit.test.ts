import { InMemoryKVS } from '@learning-observer/kvs';
import {
  EventField,
  KeyField,
  ReducerError,
  kvsPipeline,
  reducerModule,
  runReducers,
  studentEventReducer,
  type LOEvent,
  type ReducerOutput,
} from '@learning-observer/reducers';
import { ev } from './helpers';

const SRC = 'org.ets.sba';

@reducerModule('lo_toy_sba.reducers', { context: SRC })
class Toy {
  @studentEventReducer({ nullState: { count: 0 } })
  student_event_counter(_e: LOEvent, s: { count: number }): ReducerOutput {
    if (_e.client.fail) throw new Error('bad event');
    return [{ count: s.count + 1 }, { count: s.count + 1 }];
  }

  @kvsPipeline({ scope: [KeyField.STUDENT, new EventField('doc_id')], nullState: [], backend: 'docs' })
  docs(e: LOEvent, s: string[]): ReducerOutput {
    return [[...s, e.client.event as string], false];
  }
}

describe('runReducers', () => {
  test('runs a module over events against a fresh in-memory store and reads states back', async () => {
    const run = await runReducers(Toy, [
      ev(SRC, 's1'),
      ev(SRC, 's1', { doc_id: 'D1' }),
      ev(SRC, 's2'),
      ev(SRC, 's1', { fail: true }),
      ev('org.other', 's1'),
    ]);
    expect(run.results).toHaveLength(4);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(ReducerError);
    expect(run.errors[0].internalKey).toBe('Internal,lo_toy_sba.reducers.student_event_counter,STUDENT:s1');
    expect(await run.external('student_event_counter', { STUDENT: 's1' })).toEqual({ count: 2 });
    expect(await run.internal('lo_toy_sba.reducers.student_event_counter', { STUDENT: 's2' })).toEqual({ count: 1 });
    expect(await run.external('student_event_counter', { STUDENT: 'nobody' })).toBeUndefined();
    // the `docs` reducer names a backend: the test kit gives it its own in-memory store
    expect(await run.internal('docs', { STUDENT: 's1', 'EventField.doc_id': 'D1' })).toEqual(['test']);
    expect(Object.keys(run.stores)).toEqual(['docs']);
    expect(await run.dump()).toEqual({
      'External,lo_toy_sba.reducers.student_event_counter,STUDENT:s1': { count: 2 },
      'External,lo_toy_sba.reducers.student_event_counter,STUDENT:s2': { count: 1 },
      'Internal,lo_toy_sba.reducers.docs,EventField.doc_id:D1,STUDENT:s1': ['test'],
      'Internal,lo_toy_sba.reducers.student_event_counter,STUDENT:s1': { count: 2 },
      'Internal,lo_toy_sba.reducers.student_event_counter,STUDENT:s2': { count: 1 },
    });
    await expect(run.external('nope', {})).rejects.toThrow(
      'No reducer "nope" ran; give a qualname or id among: lo_toy_sba.reducers.student_event_counter, lo_toy_sba.reducers.docs.',
    );
  });

  test('accepts an instance, a reducer filter, async iterables and a given store', async () => {
    const store = new InMemoryKVS();
    async function* events() {
      yield ev(SRC, 'a');
      yield ev(SRC, 'a', { doc_id: 'D' });
    }
    const run = await runReducers(new Toy(), events(), { store, reducers: ['lo_toy_sba.reducers.student_event_counter'] });
    expect(run.store).toBe(store);
    expect(run.definitions.map((d) => d.id)).toEqual(['lo_toy_sba.reducers.student_event_counter']);
    expect(await store.get('External,lo_toy_sba.reducers.student_event_counter,STUDENT:a')).toEqual({ count: 2 });
  });
});
