import { InMemoryKVS } from '@learning-observer/kvs';
import {
  EventField,
  KeyField,
  ReducerRegistry,
  kvsPipeline,
  reducerModule,
  runReducers,
  studentEventReducer,
  type LOEvent,
  type ReducerOutput,
} from '@learning-observer/reducers';
import { QueryEngine, keys, select, stripProvenance, studentReducerQuery } from '@learning-observer/query';

@reducerModule('qtest.pipeline', { context: 'org.test.pipeline' })
class ClickModule {
  @studentEventReducer({ nullState: { clicks: 0 }, default: { clicks: 0, note: 'no clicks yet' } })
  clicks(_event: LOEvent, state: { clicks: number }): ReducerOutput {
    const next = { clicks: state.clicks + 1 };
    return [next, next];
  }

  @kvsPipeline({ scope: [KeyField.STUDENT, new EventField('doc_id')], nullState: { edits: 0 } })
  edits(_event: LOEvent, state: { edits: number }): ReducerOutput {
    const next = { edits: state.edits + 1 };
    return [next, next];
  }
}

const event = (student: string, doc: string): LOEvent =>
  ({ client: { source: 'org.test.pipeline', event: 'click', doc_id: doc }, metadata: { auth: { safe_user_id: student } } }) as LOEvent;

describe('states written by the reducer pipeline, read by queries', () => {
  test('roster query and a student/document select over pipeline output', async () => {
    const store = new InMemoryKVS();
    const run = await runReducers(
      ClickModule,
      [event('ana', 'D1'), event('bo', 'D1'), event('ana', 'D2'), event('ana', 'D1')],
      { store },
    );
    expect(run.errors).toEqual([]);

    const registry = new ReducerRegistry();
    registry.register(ClickModule);
    const engine = new QueryEngine({ reducers: registry, store });
    engine.publishFunction('learning_observer.courseroster', (course: string) =>
      course === 'c1' ? [{ user_id: 'ana' }, { user_id: 'bo' }, { user_id: 'cy' }] : [],
    );
    engine.publishQuery('clicks', studentReducerQuery('qtest.pipeline.clicks'));
    const out = await engine.execute('clicks', { exports: ['clicks_export'], parameters: { course_id: 'c1' } });
    expect(stripProvenance(out.clicks_export as unknown[])).toEqual([
      { clicks: 3, user_id: 'ana' },
      { clicks: 1, user_id: 'bo' },
      { clicks: 0, note: 'no clicks yet', user_id: 'cy' },
    ]);

    const docs = await engine.execute(
      {
        nodes: {
          edits: select(keys('qtest.pipeline.edits', { STUDENTS: 'ana', RESOURCES: ['D1', 'D2', 'D3'] }), ['edits']),
        },
      },
      { exports: ['edits'], allowOpenQuery: true },
    );
    expect(docs.edits).toEqual([
      { edits: 2, provenance: { key: 'External,qtest.pipeline.edits,EventField.doc_id:D1,STUDENT:ana', provenance: { STUDENT: { value: 'ana' }, RESOURCE: { value: 'D1' } } } },
      { edits: 1, provenance: { key: 'External,qtest.pipeline.edits,EventField.doc_id:D2,STUDENT:ana', provenance: { STUDENT: { value: 'ana' }, RESOURCE: { value: 'D2' } } } },
      { edits: 0, provenance: { key: 'External,qtest.pipeline.edits,EventField.doc_id:D3,STUDENT:ana', provenance: { STUDENT: { value: 'ana' }, RESOURCE: { value: 'D3' } } } },
    ]);
  });
});
