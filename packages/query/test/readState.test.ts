import { InMemoryKVS, KVSRouter, type JsonValue, type KVStore } from '@learning-observer/kvs';
import { KeyStateType, makeKey } from '@learning-observer/reducers';
import { KeyFieldsError, UnknownReducerError, readState, readStates, type TypedReducer } from '@learning-observer/query';
import { testRegistry } from './fixtures';

/** Counts the calls of each store method. */
function counting(store: KVStore): { store: KVStore; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

describe('readState / readStates', () => {
  let store: InMemoryKVS;
  const { registry, counter, words } = testRegistry();

  beforeEach(async () => {
    store = new InMemoryKVS();
    await store.set(makeKey(counter.id, { STUDENT: 's1' }, KeyStateType.EXTERNAL), { count: 3, last: 'mon' });
    await store.set(makeKey(counter.id, { STUDENT: 's1' }, KeyStateType.INTERNAL), { count: 3, last: 'internal' });
    await store.set(makeKey(words.id, { STUDENT: 's1', 'EventField.doc_id': 'D1' }, KeyStateType.EXTERNAL), { words: 120 });
  });

  test('reads external state by definition or by id; missing state is the declared default', async () => {
    expect(await readState(counter, { STUDENT: 's1' }, { store })).toEqual({ count: 3, last: 'mon' });
    expect(await readState('qtest.clicks.click_count', { STUDENT: 's1' }, { store, reducers: registry })).toEqual({ count: 3, last: 'mon' });
    expect(await readState(counter, { STUDENT: 'nobody' }, { store })).toEqual({ count: 0, last: 'never' });
    expect(await readState(words, { STUDENT: 's1', 'EventField.doc_id': 'D1' }, { store })).toEqual({ words: 120 });
  });

  test('internal state only when asked; missing internal state is the null state', async () => {
    expect(await readState(counter, { STUDENT: 's1' }, { store, internal: true })).toEqual({ count: 3, last: 'internal' });
    expect(await readState(counter, { STUDENT: 's2' }, { store, internal: true })).toEqual({ count: 0, last: null });
  });

  test('the default is a fresh copy every time', async () => {
    const a = (await readState(counter, { STUDENT: 'x' }, { store })) as { count: number };
    a.count = 50;
    expect(await readState(counter, { STUDENT: 'y' }, { store })).toEqual({ count: 0, last: 'never' });
    expect(counter.defaultState).toEqual({ count: 0, last: 'never' });
  });

  test('many students in one multiget, aligned with the input', async () => {
    const { store: counted, calls } = counting(store);
    const states = await readStates(counter, [{ STUDENT: 'a' }, { STUDENT: 's1' }, { STUDENT: 'b' }], { store: counted });
    expect(states).toEqual([
      { count: 0, last: 'never' },
      { count: 3, last: 'mon' },
      { count: 0, last: 'never' },
    ]);
    expect(calls).toEqual({ multiget: 1 });
    expect(await readStates(counter, [], { store: counted })).toEqual([]);
    expect(calls).toEqual({ multiget: 1 });
  });

  test('typed by the reducer state', async () => {
    const typed = counter as unknown as TypedReducer<{ count: number; last: string | null }>;
    const state = await readState(typed, { STUDENT: 's1' }, { store });
    const count: number = state.count;
    expect(count).toBe(3);
    const named = await readStates<{ count: number }>(counter, [{ STUDENT: 's1' }], { store });
    expect(named[0].count).toBe(3);
    const untyped: JsonValue = await readState(counter, { STUDENT: 's1' }, { store });
    expect(untyped).toEqual({ count: 3, last: 'mon' });
  });

  test('a reducer with a backend is read from that named store of the router', async () => {
    const router = new KVSRouter({ kvs: { default: { type: 'stub' }, cache: { type: 'stub' } } });
    const cached = { ...counter, backend: 'cache' };
    await router.get('cache').set(makeKey(counter.id, { STUDENT: 's1' }, KeyStateType.EXTERNAL), { count: 8, last: 'cache' });
    expect(await readState(cached, { STUDENT: 's1' }, { router })).toEqual({ count: 8, last: 'cache' });
    expect(await readState(counter, { STUDENT: 's1' }, { router })).toEqual({ count: 0, last: 'never' });
    await router.close();
  });

  test('fields that do not match the scope, and unknown reducers, throw clear errors', async () => {
    await expect(readState(words, { STUDENT: 's1' }, { store })).rejects.toThrow(
      new KeyFieldsError(
        'Key fields do not match reducer qtest.docs.word_count, which is keyed by EventField.doc_id, STUDENT; missing EventField.doc_id. ' +
          'Pass exactly { "EventField.doc_id": ..., "STUDENT": ... }.',
      ),
    );
    await expect(readStates(counter, [{ STUDENT: 's1' }, { STUDENT: 's2', CLASS: 'c' }], { store })).rejects.toThrow(
      'Key fields (entry 1) do not match reducer qtest.clicks.click_count, which is keyed by STUDENT; not in its scope: CLASS.',
    );
    await expect(readState('qtest.nope.x', { STUDENT: 's1' }, { store })).rejects.toThrow(UnknownReducerError);
    await expect(readState('qtest.nope.x', { STUDENT: 's1' }, { store, reducers: registry })).rejects.toThrow(
      'Unknown reducer "qtest.nope.x": the reducer registry given in { reducers } does not know it; register its module first.',
    );
  });
});
