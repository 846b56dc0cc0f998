import { InMemoryKVS, PersistentRedisKVS, createRedisClient, type KVStore } from '@learning-observer/kvs';
import { describeWithRedis, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { KeyStateType, makeKey, type ReducerDefinition } from '@learning-observer/reducers';
import { QueryEngine, join, readStates, stripProvenance, studentReducerQuery, variable, type QueryDag } from '@learning-observer/query';
import { roster, testRegistry } from './fixtures';

const EXPORT = 'click_count_export';

/** Stores a click count for every student whose index is even; odd students have no state. */
async function writeStates(store: KVStore, counter: ReducerDefinition, students: { user_id: string }[]): Promise<void> {
  await Promise.all(
    students.map((s, i) =>
      i % 2 === 0 ? store.set(makeKey(counter.id, { STUDENT: s.user_id }, KeyStateType.EXTERNAL), { count: i + 1, last: `day-${i}` }) : undefined,
    ),
  );
}

/** What every roster row should come back as: the roster row merged with its own state. */
function expectedRows(counter: ReducerDefinition, students: ReturnType<typeof roster>) {
  return students.map((s, i) => ({
    ...(i % 2 === 0 ? { count: i + 1, last: `day-${i}` } : { count: 0, last: 'never' }),
    user_id: s.user_id,
    profile: s.profile,
    provenance: {
      key: `External,${counter.id},STUDENT:${s.user_id}`,
      provenance: { STUDENT: { value: s, user_id: s.user_id } },
    },
  }));
}

function rosterEngine(store: KVStore, rosters: Record<string, ReturnType<typeof roster>>) {
  const { registry, counter } = testRegistry();
  const engine = new QueryEngine({ reducers: registry, store });
  engine.publishFunction('learning_observer.courseroster', async (courseId: string) => structuredClone(rosters[courseId] ?? []));
  engine.publishQuery('click_counts', studentReducerQuery(counter));
  return { engine, counter };
}

describe('studentReducerQuery', () => {
  test('builds the standard roster query, named after the reducer', () => {
    const { counter } = testRegistry();
    const dag = studentReducerQuery(counter);
    expect(Object.keys(dag.nodes)).toEqual(['roster', 'click_count_keys', 'click_count_output', 'click_count_join_roster']);
    expect(dag.nodes.click_count_join_roster).toEqual({
      dispatch: 'join',
      left: { dispatch: 'variable', name: 'click_count_output' },
      right: { dispatch: 'variable', name: 'roster' },
      leftOn: 'provenance.provenance.STUDENT.value.user_id',
      rightOn: 'user_id',
    });
    expect(dag.exports).toEqual({
      click_count_export: {
        returns: 'click_count_join_roster',
        parameters: ['course_id'],
        description: 'Latest qtest.clicks.click_count state of every student on the roster, merged with the roster row.',
      },
    });
    expect(Object.keys(studentReducerQuery('a.b.event_count', { name: 'ec' }).exports!)).toEqual(['ec_export']);
  });

  test('on InMemoryKVS: every roster row gets its own state (stored, or the default)', async () => {
    const store = new InMemoryKVS();
    const students = roster(7);
    const { engine, counter } = rosterEngine(store, { c1: students, c2: roster(2, 'other') });
    await writeStates(store, counter, students);
    const out = await engine.execute('click_counts', { exports: [EXPORT], parameters: { course_id: 'c1' } });
    expect(out[EXPORT]).toEqual(expectedRows(counter, students));
    expect(stripProvenance(out[EXPORT] as unknown[])[0]).toEqual({
      count: 1,
      last: 'day-0',
      user_id: 'stu-0',
      profile: { name: { full_name: 'Student 0' } },
    });
  });

  test('a missing course_id is a validation error naming the parameter node', async () => {
    const { engine } = rosterEngine(new InMemoryKVS(), {});
    await expect(engine.execute('click_counts', { exports: [EXPORT] })).rejects.toThrow(
      '  - roster.args.0: required parameter "course_id" is missing; pass it in parameters: { course_id: ... }.',
    );
  });

  test("the original's join path is stale: on it no roster row is merged in", async () => {
    const store = new InMemoryKVS();
    const students = roster(3);
    const { engine, counter } = rosterEngine(store, { c1: students });
    await writeStates(store, counter, students);
    const published = studentReducerQuery(counter);
    const stale: QueryDag = {
      nodes: {
        ...published.nodes,
        click_count_join_roster: join(variable('click_count_output'), variable('roster'), 'provenance.provenance.value.user_id', 'user_id'),
      },
      exports: published.exports,
    };
    const out = await engine.execute(stale, { exports: [EXPORT], parameters: { course_id: 'c1' }, allowOpenQuery: true });
    const rows = stripProvenance(out[EXPORT] as Record<string, unknown>[]);
    expect(rows).toEqual([
      { count: 1, last: 'day-0' },
      { count: 0, last: 'never' },
      { count: 3, last: 'day-2' },
    ]);
  });
});

describeWithRedis('studentReducerQuery on Redis', () => {
  let server: RedisServerHandle;
  let store: PersistentRedisKVS;

  beforeAll(async () => {
    server = await startRedisServer();
    store = new PersistentRedisKVS({ connection: server.connection, prefix: 'qtest:', checkPersistence: false });
  });

  afterAll(async () => {
    await store?.close();
    await server?.stop();
  });

  async function commandCalls(): Promise<Record<string, number>> {
    const client = createRedisClient(server.connection);
    await client.connect();
    try {
      const info = await client.info('commandstats');
      const calls: Record<string, number> = {};
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]] = Number(match[2]);
      return calls;
    } finally {
      client.disconnect();
    }
  }

  async function resetStats(): Promise<void> {
    const client = createRedisClient(server.connection);
    await client.connect();
    try {
      await client.config('RESETSTAT');
    } finally {
      client.disconnect();
    }
  }

  test('1,000 students: every roster row gets its state, read with one MGET and no GET', async () => {
    const students = roster(1000);
    const { engine, counter } = rosterEngine(store, { big: students });
    await writeStates(store, counter, students);
    await resetStats();
    const out = await engine.execute('click_counts', { exports: [EXPORT], parameters: { course_id: 'big' } });
    const calls = await commandCalls();
    expect(out[EXPORT]).toEqual(expectedRows(counter, students));
    expect(calls.mget).toBe(1);
    expect(calls.get).toBeUndefined();
  });

  test('readStates for 1,000 students is one MGET too', async () => {
    const students = roster(1000, 'direct');
    const { counter } = testRegistry();
    await writeStates(store, counter, students);
    await resetStats();
    const states = await readStates(counter, students.map((s) => ({ STUDENT: s.user_id })), { store });
    const calls = await commandCalls();
    expect(states).toEqual(students.map((_, i) => (i % 2 === 0 ? { count: i + 1, last: `day-${i}` } : { count: 0, last: 'never' })));
    expect(calls.mget).toBe(1);
    expect(calls.get).toBeUndefined();
  });
});
