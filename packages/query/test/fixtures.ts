import { ReducerRegistry, defineReducer, EventField, KeyField, type ReducerDefinition } from '@learning-observer/reducers';

/** A fresh registry with the test reducers: a per-student counter and a per-document word count. */
export function testRegistry(): { registry: ReducerRegistry; counter: ReducerDefinition; words: ReducerDefinition; noDefault: ReducerDefinition } {
  const registry = new ReducerRegistry();
  registry.registerAll([
    defineReducer(
      { module: 'qtest.clicks', qualname: 'click_count', context: 'org.test.clicks', nullState: { count: 0, last: null }, default: { count: 0, last: 'never' } },
      (_event, state: { count: number }) => {
        const next = { count: state.count + 1, last: 'now' };
        return [next, next];
      },
    ),
    defineReducer(
      {
        module: 'qtest.docs',
        qualname: 'word_count',
        context: 'org.test.docs',
        scope: [KeyField.STUDENT, new EventField('doc_id')],
        nullState: { words: 0 },
      },
      (_event, state: { words: number }) => [state, state],
    ),
    defineReducer(
      { module: 'qtest.misc', qualname: 'plain_number', context: 'org.test.misc', nullState: 0 },
      (_event, state: number) => [state + 1, state + 1],
    ),
  ]);
  return {
    registry,
    counter: registry.get('qtest.clicks.click_count')!,
    words: registry.get('qtest.docs.word_count')!,
    noDefault: registry.get('qtest.misc.plain_number')!,
  };
}

/** A class roster, in the shape the original's roster function returns. */
export function roster(n: number, prefix = 'stu'): { user_id: string; profile: { name: { full_name: string } } }[] {
  return Array.from({ length: n }, (_, i) => ({
    user_id: `${prefix}-${i}`,
    profile: { name: { full_name: `Student ${i}` } },
  }));
}
