import { InMemoryKVS } from '@learning-observer/kvs';
import {
  DuplicateFunctionError,
  OpenQueryNotAllowedError,
  call,
  configureQueryEngine,
  defaultQueryEngine,
  execute,
  flattenDag,
  getPath,
  join,
  keys,
  map,
  parameter,
  publishFunction,
  publishQuery,
  select,
  validateQuery,
  variable,
} from '@learning-observer/query';

describe('node builders', () => {
  test('produce plain JSON nodes', () => {
    const roster = call('learning_observer.courseroster');
    const dag = {
      roster: roster(parameter('course_id', { required: true })),
      limit: parameter('limit', { default: 5 }),
      ks: keys('m.r', { STUDENTS: variable('roster'), STUDENTS_path: 'user_id', internal: true }),
      all: select(variable('ks')),
      some: select(variable('ks'), { 'a.b': 'b' }),
      j: join(variable('all'), variable('roster'), 'provenance.provenance.STUDENT.value.user_id', 'user_id'),
      m: map(roster, variable('all'), { valuePath: 'count', funcKwargs: { x: 1 }, parallel: 3 }),
      m2: map('f', [1, 2]),
    };
    expect(JSON.parse(JSON.stringify(dag))).toEqual({
      roster: { dispatch: 'call', function: 'learning_observer.courseroster', args: [{ dispatch: 'parameter', name: 'course_id', required: true }] },
      limit: { dispatch: 'parameter', name: 'limit', required: false, default: 5 },
      ks: { dispatch: 'keys', reducer: 'm.r', STUDENTS: { dispatch: 'variable', name: 'roster' }, STUDENTS_path: 'user_id', internal: true },
      all: { dispatch: 'select', keys: { dispatch: 'variable', name: 'ks' }, fields: 'all' },
      some: { dispatch: 'select', keys: { dispatch: 'variable', name: 'ks' }, fields: { 'a.b': 'b' } },
      j: {
        dispatch: 'join',
        left: { dispatch: 'variable', name: 'all' },
        right: { dispatch: 'variable', name: 'roster' },
        leftOn: 'provenance.provenance.STUDENT.value.user_id',
        rightOn: 'user_id',
      },
      m: {
        dispatch: 'map',
        function: 'learning_observer.courseroster',
        values: { dispatch: 'variable', name: 'all' },
        valuePath: 'count',
        funcKwargs: { x: 1 },
        parallel: 3,
      },
      m2: { dispatch: 'map', function: 'f', values: [1, 2], parallel: false },
    });
    expect(roster.functionName).toBe('learning_observer.courseroster');
  });

  test('flattening names nested nodes after their place and leaves the input alone', () => {
    const nested = { nodes: { docs: select(keys('m.r', { STUDENTS: call('roster')({ course: parameter('c') }) })) } };
    const before = JSON.stringify(nested);
    const flat = flattenDag(nested);
    expect([...flat.nodes.keys()]).toEqual(['docs', 'docs.keys', 'docs.keys.STUDENTS', 'docs.keys.STUDENTS.args.0.course']);
    expect(flat.nodes.get('docs')).toEqual({ dispatch: 'select', keys: { dispatch: 'variable', name: 'docs.keys' }, fields: 'all' });
    expect(flat.nodes.get('docs.keys.STUDENTS')).toEqual({
      dispatch: 'call',
      function: 'roster',
      args: [{ course: { dispatch: 'variable', name: 'docs.keys.STUDENTS.args.0.course' } }],
    });
    expect(flat.problems).toEqual([]);
    expect(JSON.stringify(nested)).toBe(before);
  });

  test('a nested node whose generated name is taken is reported', () => {
    const flat = flattenDag({ nodes: { a: select(keys('m.r', { STUDENTS: ['s'] })), 'a.keys': parameter('p') } });
    expect(flat.problems).toEqual([
      { node: 'a.keys', message: 'a nested node would be named "a.keys", which is already a node name; rename that node.' },
    ]);
  });

  test('getPath follows dotted paths and reports the missing part', () => {
    expect(getPath({ a: { b: [10, { c: 3 }] } }, 'a.b.1.c')).toEqual({ found: true, value: 3 });
    expect(getPath({ a: { b: null } }, 'a.b.c')).toEqual({ found: false, missing: 'a.b.c' });
    expect(getPath({ a: 1 }, 'x.y')).toEqual({ found: false, missing: 'x' });
    expect(getPath('s1', '')).toEqual({ found: true, value: 's1' });
  });
});

describe('module-level engine', () => {
  afterEach(() => {
    configureQueryEngine();
  });

  test('publishFunction / publishQuery / execute use one process-wide engine', async () => {
    configureQueryEngine({ store: new InMemoryKVS() });
    publishFunction('qtest.greet', (name: string) => `hello ${name}`);
    expect(() => publishFunction('qtest.greet', () => 'again')).toThrow(DuplicateFunctionError);
    publishQuery('greeting', {
      nodes: { hi: call('qtest.greet')(parameter('name', { required: true })) },
      exports: { hi: { returns: 'hi', parameters: ['name'] } },
    });
    expect(await execute('greeting', { exports: ['hi'], parameters: { name: 'Ada' } })).toEqual({ hi: 'hello Ada' });
    await expect(execute({ nodes: { hi: call('qtest.greet')('x') } }, { exports: ['hi'] })).rejects.toThrow(OpenQueryNotAllowedError);
    expect(validateQuery({ nodes: { hi: call('qtest.nope')() } })).toEqual([
      { node: 'hi', message: 'calls function "qtest.nope", which is not published. Publish it with publishFunction("qtest.nope", fn).' },
    ]);
    expect(defaultQueryEngine().functionNames()).toEqual(['qtest.greet']);
  });

  test('configureQueryEngine starts from an empty engine', () => {
    publishFunction('qtest.one', () => 1);
    configureQueryEngine();
    expect(defaultQueryEngine().functionNames()).toEqual([]);
  });
});
