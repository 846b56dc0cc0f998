import { InMemoryKVS } from '@learning-observer/kvs';
import { KeyStateType, makeKey } from '@learning-observer/reducers';
import {
  DuplicateFunctionError,
  DuplicateQueryError,
  OpenQueryNotAllowedError,
  QueryEngine,
  QueryValidationError,
  UnknownQueryError,
  call,
  isQueryErrorValue,
  join,
  keys,
  map,
  parameter,
  select,
  stripProvenance,
  variable,
  type QueryDag,
  type QueryProblem,
} from '@learning-observer/query';
import { testRegistry } from './fixtures';

const open = { allowOpenQuery: true } as const;

function engineWith(functions: Record<string, (...args: any[]) => unknown> = {}): QueryEngine {
  return new QueryEngine({ functions, reducers: testRegistry().registry, store: new InMemoryKVS() });
}

async function validationProblems(run: Promise<unknown>): Promise<QueryProblem[]> {
  try {
    await run;
  } catch (err) {
    if (err instanceof QueryValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected a QueryValidationError');
}

describe('call', () => {
  test('calls a published function with resolved arguments (sync and async)', async () => {
    const engine = engineWith({ double: (x: number) => x * 2, add: async (a: number, b: { n: number }) => a + b.n });
    const out = await engine.execute(
      { nodes: { d: call('double')(21), s: call('add')(variable('d'), { n: parameter('n', { default: 8 }) }) } },
      { exports: ['d', 's'], ...open },
    );
    expect(out).toEqual({ d: 42, s: 50 });
  });

  test('a missing function fails validation, naming the node', async () => {
    const engine = engineWith();
    const problems = await validationProblems(engine.execute({ nodes: { tripled: call('triple')(1) } }, { exports: ['tripled'], ...open }));
    expect(problems).toEqual([
      { node: 'tripled', message: 'calls function "triple", which is not published. Publish it with publishFunction("triple", fn).' },
    ]);
  });

  test('a throwing function gives an error value naming the node and function, and downstream nodes pass it on', async () => {
    const engine = engineWith({
      boom: () => {
        throw new Error('roster service down');
      },
      count: (rows: unknown[]) => rows.length,
    });
    const out = await engine.execute(
      { nodes: { roster: call('boom')(), n: call('count')(variable('roster')) } },
      { exports: ['roster', 'n'], ...open },
    );
    const expected = {
      error: 'Function "boom" threw: roster service down',
      node: 'roster',
      dispatch: 'call',
      details: { function: 'boom' },
    };
    expect(out).toEqual({ roster: expected, n: expected });
    expect(isQueryErrorValue(out.roster)).toBe(true);
  });

  test('publishFunction rejects a duplicate name', () => {
    const engine = engineWith({ double: (x: number) => x * 2 });
    expect(() => engine.publishFunction('double', (x: number) => x + x)).toThrow(DuplicateFunctionError);
    expect(() => engine.publishFunction('double', (x: number) => x + x)).toThrow('A function named "double" is already published');
  });
});

describe('parameter', () => {
  const dag: QueryDag = {
    nodes: {
      required: call('echo')(parameter('course_id', { required: true })),
      optional: call('echo')(parameter('limit', { default: 10 })),
      bare: call('echo')(parameter('note')),
    },
  };
  const engine = engineWith({ echo: (x: unknown) => ({ got: x === undefined ? 'undefined' : x }) });

  test('a given parameter is substituted', async () => {
    const out = await engine.execute(dag, { exports: ['required', 'optional'], parameters: { course_id: 'c-1', limit: 3 }, ...open });
    expect(out).toEqual({ required: { got: 'c-1' }, optional: { got: 3 } });
  });

  test('a missing optional parameter takes its default (undefined without one)', async () => {
    const out = await engine.execute(dag, { exports: ['optional', 'bare'], parameters: {}, ...open });
    expect(out).toEqual({ optional: { got: 10 }, bare: { got: 'undefined' } });
  });

  test('a missing required parameter fails validation and names the nested parameter node', async () => {
    const problems = await validationProblems(engine.execute(dag, { exports: ['required'], parameters: { limit: 1 }, ...open }));
    expect(problems).toEqual([
      { node: 'required.args.0', message: 'required parameter "course_id" is missing; pass it in parameters: { course_id: ... }.' },
    ]);
  });

  test('only the requested exports need their parameters', async () => {
    const out = await engine.execute(dag, { exports: ['optional'], ...open });
    expect(out).toEqual({ optional: { got: 10 } });
  });
});

describe('join', () => {
  const left = [
    { lid: 1, side: 'left', deep: { id: 'a' } },
    { lid: 2, side: 'left', deep: { id: 'b' } },
    { side: 'left', note: 'no lid' },
    { lid: 3, side: 'left', deep: { id: 'zzz' } },
  ];
  const right = [
    { rid: 2, extra: 'two', side: 'right' },
    { extra: 'no rid' },
    { rid: 1, extra: 'one', side: 'right' },
    { rid: '3', extra: 'string three' },
  ];
  const engine = engineWith();

  test('matches rows (right wins on clashes), keeps unmatched left rows and rows missing the path', async () => {
    const out = await engine.execute({ nodes: { j: join(left, right, 'lid', 'rid') } }, { exports: ['j'], ...open });
    expect(out.j).toEqual([
      { lid: 1, rid: 1, side: 'right', deep: { id: 'a' }, extra: 'one' },
      { lid: 2, rid: 2, side: 'right', deep: { id: 'b' }, extra: 'two' },
      { side: 'left', note: 'no lid' },
      { lid: 3, side: 'left', deep: { id: 'zzz' } },
    ]);
  });

  test('with duplicate right keys the last right row wins, as in the original', async () => {
    const dupRight = [
      { rid: 1, extra: 'first one', only_first: true },
      { rid: 2, extra: 'two' },
      { rid: 1, extra: 'second one' },
      { rid: 1, extra: 'last one', side: 'right' },
    ];
    const out = await engine.execute({ nodes: { j: join(left.slice(0, 2), dupRight, 'lid', 'rid') } }, { exports: ['j'], ...open });
    // Rows are not merged with each other: fields only the first duplicate had are not carried over.
    expect(out.j).toEqual([
      { lid: 1, rid: 1, side: 'right', deep: { id: 'a' }, extra: 'last one' },
      { lid: 2, rid: 2, side: 'left', deep: { id: 'b' }, extra: 'two' },
    ]);
  });

  test('dotted paths on both sides', async () => {
    const out = await engine.execute(
      { nodes: { j: join(left.slice(0, 2), [{ who: { id: 'b' }, score: 9 }], 'deep.id', 'who.id') } },
      { exports: ['j'], ...open },
    );
    expect(out.j).toEqual([
      { lid: 1, side: 'left', deep: { id: 'a' } },
      { lid: 2, side: 'left', deep: { id: 'b' }, who: { id: 'b' }, score: 9 },
    ]);
  });

  test('a left path that exists nowhere keeps every left row unchanged', async () => {
    const out = await engine.execute({ nodes: { j: join(left, right, 'nonexistent.value.path', 'rid') } }, { exports: ['j'], ...open });
    expect(out.j).toEqual(left);
  });

  test('string ids match only equal strings: "1" is not 1, and a quote inside an id is text', async () => {
    const rows = [{ id: '1' }, { id: 1 }, { id: '"1' }, { id: '1"' }];
    const others = [
      { rid: 1, hit: 'number 1' },
      { rid: '1', hit: 'string 1' },
      { rid: '"1', hit: 'quote 1' },
    ];
    const out = await engine.execute({ nodes: { j: join(rows, others, 'id', 'rid') } }, { exports: ['j'], ...open });
    expect((out.j as { hit?: string }[]).map((r) => r.hit)).toEqual(['string 1', 'number 1', 'quote 1', undefined]);
  });

  test('a row with its own "__proto__" key (from JSON) is merged as data, prototypes untouched', async () => {
    const leftRows = [JSON.parse('{"lid": 1, "__proto__": {"polluted": true}}')];
    const rightRows = [JSON.parse('{"rid": 1, "extra": "one", "__proto__": {"also": true}}')];
    const out = await engine.execute({ nodes: { j: join(leftRows, rightRows, 'lid', 'rid') } }, { exports: ['j'], ...open });
    const [row] = out.j as Record<string, unknown>[];
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toEqual({ also: true });
    expect(row).toMatchObject({ lid: 1, rid: 1, extra: 'one' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('a non-list input is an error value', async () => {
    const out = await engine.execute({ nodes: { j: join({ not: 'a list' }, right, 'lid', 'rid') } }, { exports: ['j'], ...open });
    expect(out.j).toEqual({ error: 'The left input of a join must be a list of rows; got object.', node: 'j', dispatch: 'join' });
  });
});

describe('map', () => {
  const values = [{ name: 'ana' }, { name: 'bo' }, { name: 'cy2' }, { name: 'dee' }];

  test('sync function over a value path, with funcKwargs; object results get provenance, others are wrapped', async () => {
    const engine = engineWith({
      shout: (name: string, opts: { suffix: string }) => (name === 'bo' ? `${name.toUpperCase()}${opts.suffix}` : { loud: name.toUpperCase() + opts.suffix }),
    });
    const out = await engine.execute(
      { nodes: { m: map('shout', values.slice(0, 2), { valuePath: 'name', funcKwargs: { suffix: '!' } }) } },
      { exports: ['m'], ...open },
    );
    expect(out.m).toEqual([
      { loud: 'ANA!', provenance: { function: 'shout', value: { name: 'ana' }, provenance: {}, funcKwargs: { suffix: '!' }, valuePath: 'name' } },
      { output: 'BO!', provenance: { function: 'shout', value: { name: 'bo' }, provenance: {}, funcKwargs: { suffix: '!' }, valuePath: 'name' } },
    ]);
  });

  test('async function; an item that throws becomes an error value with its provenance, the others still run', async () => {
    const engine = engineWith({
      check: async (name: string) => {
        await new Promise((r) => setTimeout(r, 1));
        if (name.endsWith('2')) throw new Error('Item ends with a 2');
        return name.length;
      },
    });
    const out = await engine.execute({ nodes: { m: map(call('check'), values, { valuePath: 'name' }) } }, { exports: ['m'], ...open });
    const prov = (name: string) => ({ function: 'check', value: { name }, provenance: {}, valuePath: 'name' });
    expect(out.m).toEqual([
      { output: 3, provenance: prov('ana') },
      { output: 2, provenance: prov('bo') },
      {
        error: 'Function "check" threw on item 2: Item ends with a 2',
        node: 'm',
        dispatch: 'map',
        details: { function: 'check', index: 2 },
        provenance: prov('cy2'),
      },
      { output: 3, provenance: prov('dee') },
    ]);
  });

  test('an item without the value path is an error value', async () => {
    const engine = engineWith({ len: (s: string) => s.length });
    const out = await engine.execute({ nodes: { m: map('len', [{ name: 'x' }, { other: 1 }], { valuePath: 'name' }) } }, { exports: ['m'], ...open });
    expect((out.m as unknown[])[1]).toEqual({
      error: 'Item 1 has no value at "name".',
      node: 'm',
      dispatch: 'map',
      details: { function: 'len', index: 1 },
      provenance: { function: 'len', value: { other: 1 }, provenance: {}, valuePath: 'name' },
    });
  });

  test.each([true, 2])('parallel=%p keeps input order although items finish in reverse', async (parallel) => {
    const finished: number[] = [];
    let running = 0;
    let maxRunning = 0;
    const engine = engineWith({
      slow: async (n: number) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, (6 - n) * 5));
        running--;
        finished.push(n);
        return n * 10;
      },
    });
    const out = await engine.execute({ nodes: { m: map('slow', [1, 2, 3, 4, 5], { parallel }) } }, { exports: ['m'], ...open });
    expect(stripProvenance(out.m as unknown[])).toEqual([{ output: 10 }, { output: 20 }, { output: 30 }, { output: 40 }, { output: 50 }]);
    expect(maxRunning).toBe(parallel === true ? 5 : 2);
    if (parallel === true) expect(finished).toEqual([5, 4, 3, 2, 1]);
  });

  test('serial map runs one item at a time', async () => {
    let running = 0;
    let maxRunning = 0;
    const engine = engineWith({
      slow: async (n: number) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 1));
        running--;
        return n;
      },
    });
    await engine.execute({ nodes: { m: map('slow', [1, 2, 3]) } }, { exports: ['m'], ...open });
    expect(maxRunning).toBe(1);
  });

  test('a map of an unknown function fails validation', async () => {
    const problems = await validationProblems(engineWith().execute({ nodes: { m: map('nope', [1]) } }, { exports: ['m'], ...open }));
    expect(problems).toEqual([{ node: 'm', message: 'calls function "nope", which is not published. Publish it with publishFunction("nope", fn).' }]);
  });
});

describe('select', () => {
  async function setup() {
    const { registry, counter, noDefault } = testRegistry();
    const store = new InMemoryKVS();
    await store.set(makeKey(counter.id, { STUDENT: 's1' }, KeyStateType.EXTERNAL), { count: 5, last: 'tue', nested: { a: 1 } });
    await store.set(makeKey(counter.id, { STUDENT: 's1' }, KeyStateType.INTERNAL), { count: 99, last: 'internal' });
    await store.set(makeKey(noDefault.id, { STUDENT: 's1' }, KeyStateType.EXTERNAL), 7);
    const engine = new QueryEngine({ reducers: registry, store });
    return { engine, counter, noDefault };
  }
  const k = (student: string, id = 'qtest.clicks.click_count', type = 'External') => `${type},${id},STUDENT:${student}`;
  const prov = (student: string, id?: string, type?: string) => ({
    key: k(student, id, type),
    provenance: { STUDENT: { value: student } },
  });

  test('all fields; missing state uses the reducer default (a fresh copy per row)', async () => {
    const { engine } = await setup();
    const out = await engine.execute({ nodes: { s: select(keys('qtest.clicks.click_count', { STUDENTS: ['s1', 's2', 's3'] })) } }, { exports: ['s'], ...open });
    expect(out.s).toEqual([
      { count: 5, last: 'tue', nested: { a: 1 }, provenance: prov('s1') },
      { count: 0, last: 'never', provenance: prov('s2') },
      { count: 0, last: 'never', provenance: prov('s3') },
    ]);
    const rows = out.s as { count: number }[];
    rows[1].count = 42;
    expect(rows[2].count).toBe(0);
  });

  test('chosen fields (list and renaming map); a missing field is an error value on that row only', async () => {
    const { engine } = await setup();
    const out = await engine.execute(
      {
        nodes: {
          ks: keys('qtest.clicks.click_count', { STUDENTS: [{ id: 's1' }, { id: 's2' }], STUDENTS_path: 'id' }),
          list: select(variable('ks'), ['count', 'nested.a']),
          renamed: select(variable('ks'), { 'nested.a': 'a', last: 'seen' }),
        },
      },
      { exports: ['list', 'renamed'], ...open },
    );
    const p = (s: string) => ({ key: k(s), provenance: { STUDENT: { value: { id: s }, id: s } } });
    const missing = (s: string, node: string) => ({
      error: `Field "nested.a" not found in the state stored under ${k(s)}.`,
      node,
      dispatch: 'select',
      details: { field: 'nested.a', key: k(s) },
    });
    expect(out.list).toEqual([
      { count: 5, 'nested.a': 1, provenance: p('s1') },
      { count: 0, 'nested.a': missing('s2', 'list'), provenance: p('s2') },
    ]);
    expect(out.renamed).toEqual([
      { a: 1, seen: 'tue', provenance: p('s1') },
      { a: missing('s2', 'renamed'), seen: 'never', provenance: p('s2') },
    ]);
  });

  test("select() defaults to 'all'; fields [] gives provenance-only rows (the original's default without fields)", async () => {
    expect(select(variable('ks')).fields).toBe('all');
    const { engine } = await setup();
    const out = await engine.execute({ nodes: { s: select(keys('qtest.clicks.click_count', { STUDENTS: ['s1', 's2'] }), []) } }, { exports: ['s'], ...open });
    expect(out.s).toEqual([{ provenance: prov('s1') }, { provenance: prov('s2') }]);
  });

  test('internal state only when asked; non-object state comes back under `value`', async () => {
    const { engine } = await setup();
    const out = await engine.execute(
      {
        nodes: {
          internal: select(keys('qtest.clicks.click_count', { STUDENTS: 's1', internal: true })),
          num: select(keys('qtest.misc.plain_number', { STUDENTS: ['s1', 's2'] })),
        },
      },
      { exports: ['internal', 'num'], ...open },
    );
    expect(out.internal).toEqual([{ count: 99, last: 'internal', provenance: prov('s1', undefined, 'Internal') }]);
    expect(out.num).toEqual([
      { value: 7, provenance: prov('s1', 'qtest.misc.plain_number') },
      { value: 0, provenance: prov('s2', 'qtest.misc.plain_number') },
    ]);
  });

  test('a store that fails makes the select node an error value; nodes reading it pass it on', async () => {
    const { registry } = testRegistry();
    const broken = new InMemoryKVS();
    broken.multiget = async () => {
      throw new Error('connection refused');
    };
    const engine = new QueryEngine({ reducers: registry, store: broken, functions: { count: (rows: unknown[]) => rows.length } });
    const out = await engine.execute(
      { nodes: { s: select(keys('qtest.clicks.click_count', { STUDENTS: ['s1'] })), n: call('count')(variable('s')) } },
      { exports: ['s', 'n'], ...open },
    );
    const expected = { error: 'Reading the state failed: connection refused', node: 's', dispatch: 'select' };
    expect(out).toEqual({ s: expected, n: expected });
  });

  test('hand-written keys and a malformed item', async () => {
    const { engine } = await setup();
    const out = await engine.execute({ nodes: { s: select([k('s1'), { item: 1 }], ['count']) } }, { exports: ['s'], ...open });
    expect(out.s).toEqual([
      { count: 5, provenance: { key: k('s1'), provenance: {} } },
      {
        error: 'Item 1 is not a key: expected a string or { key: string, ... } (the output of a keys node).',
        node: 's',
        dispatch: 'select',
        details: { index: 1 },
      },
    ]);
  });
});

describe('keys', () => {
  test('students and documents are zipped; a roster row without an id is an error item', async () => {
    const { registry } = testRegistry();
    const engine = new QueryEngine({ reducers: registry, store: new InMemoryKVS() });
    const out = await engine.execute(
      {
        nodes: {
          k: keys('qtest.docs.word_count', {
            STUDENTS: [{ user_id: 's1' }, { user_id: 's2' }, { name: 'nobody' }],
            STUDENTS_path: 'user_id',
            RESOURCES: [{ doc: 'D1' }, { doc: 'D2' }, { doc: 'D3' }],
            RESOURCES_path: 'doc',
          }),
        },
      },
      { exports: ['k'], ...open },
    );
    expect(out.k).toEqual([
      {
        key: 'External,qtest.docs.word_count,EventField.doc_id:D1,STUDENT:s1',
        reducer: 'qtest.docs.word_count',
        default: { words: 0 },
        provenance: { STUDENT: { value: { user_id: 's1' }, user_id: 's1' }, RESOURCE: { value: { doc: 'D1' }, doc: 'D1' } },
      },
      {
        key: 'External,qtest.docs.word_count,EventField.doc_id:D2,STUDENT:s2',
        reducer: 'qtest.docs.word_count',
        default: { words: 0 },
        provenance: { STUDENT: { value: { user_id: 's2' }, user_id: 's2' }, RESOURCE: { value: { doc: 'D2' }, doc: 'D2' } },
      },
      {
        error: 'STUDENTS item 2 has no id at "user_id" (expected a string or number).',
        node: 'k',
        dispatch: 'keys',
        details: { reducer: 'qtest.docs.word_count', index: 2 },
        provenance: { STUDENT: { value: { name: 'nobody' } }, RESOURCE: { value: { doc: 'D3' } } },
      },
    ]);
  });

  test('scope mismatches and unknown reducers fail validation, naming the node', async () => {
    const { registry } = testRegistry();
    const engine = new QueryEngine({ reducers: registry, store: new InMemoryKVS() });
    const problems = await validationProblems(
      engine.execute(
        {
          nodes: {
            docs: select(keys('qtest.docs.word_count', { STUDENTS: ['s1'] })),
            ghost: keys('qtest.nope.missing', { STUDENTS: ['s1'] }),
          },
        },
        { exports: ['docs', 'ghost'], ...open },
      ),
    );
    expect(problems).toEqual([
      { node: 'docs.keys', message: 'reducer qtest.docs.word_count is keyed by EventField.doc_id, STUDENT: give RESOURCES.' },
      { node: 'ghost', message: 'reads reducer "qtest.nope.missing", which the reducer registry does not know; register its module first.' },
    ]);
  });
});

describe('validation', () => {
  test('a circular reference is reported once with its path', async () => {
    const engine = engineWith();
    const dag: QueryDag = {
      nodes: {
        circular_2: keys('qtest.clicks.click_count', { STUDENTS: variable('circular_1'), STUDENTS_path: 'user_id' }),
        circular_1: variable('circular_2'),
        self: call('x')(variable('self')),
      },
    };
    const problems = await validationProblems(engine.execute(dag, { exports: ['circular_2'], ...open }));
    expect(problems).toEqual([
      { node: 'circular_2', message: 'circular reference: circular_2 -> circular_1 -> circular_2. A node cannot depend on itself; break the loop.' },
    ]);
  });

  test('all problems are reported together in one error, each naming its node', async () => {
    const engine = engineWith();
    const dag: QueryDag = {
      nodes: {
        a: call('missing_fn')(parameter('course_id', { required: true })),
        b: join(variable('a'), variable('nowhere'), 'x', 'y'),
        c: call('also_missing')(variable('c')),
        d: map('missing_fn', variable('b'), { parallel: 0 }),
      },
      exports: { out: { returns: 'd' }, loop: { returns: 'c' }, broken: { returns: 'zzz' } },
    };
    let error: unknown;
    try {
      await engine.execute(dag, { exports: ['out', 'loop', 'broken', 'nope'], ...open });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(QueryValidationError);
    expect((error as QueryValidationError).problems).toEqual([
      { node: 'exports.broken', message: 'returns node "zzz", which is not a node of this DAG.' },
      { node: 'exports.nope', message: 'no export named "nope"; available exports: out, loop, broken.' },
      { node: 'd', message: 'calls function "missing_fn", which is not published. Publish it with publishFunction("missing_fn", fn).' },
      { node: 'd', message: '"parallel" must be true, false or a whole number of items to run at once (at least 1).' },
      { node: 'a', message: 'calls function "missing_fn", which is not published. Publish it with publishFunction("missing_fn", fn).' },
      { node: 'a.args.0', message: 'required parameter "course_id" is missing; pass it in parameters: { course_id: ... }.' },
      { node: 'b', message: 'refers to variable "nowhere", which is not a node of this DAG. Known nodes: a, a.args.0, b, c, d.' },
      { node: 'c', message: 'calls function "also_missing", which is not published. Publish it with publishFunction("also_missing", fn).' },
      { node: 'c', message: 'circular reference: c -> c. A node cannot depend on itself; break the loop.' },
    ]);
    expect((error as Error).message).toContain('The query is not valid (9 problems); nothing was run:\n  - exports.broken: returns node "zzz"');
    expect((error as Error).message).toContain('\n  - a.args.0: required parameter "course_id" is missing');
  });

  test('a node that is not a query node is reported by name', () => {
    const engine = engineWith();
    expect(engine.validate({ nodes: { weird: { dispatch: 'teleport' } as never } })).toEqual([
      {
        node: 'weird',
        message: 'not a query node (expected an object whose "dispatch" is one of parameter, variable, call, keys, select, join, map; got {"dispatch":"teleport"}).',
      },
    ]);
  });
});

describe('published queries vs open queries', () => {
  const dag: QueryDag = {
    nodes: { doubled: call('double')(parameter('x', { required: true })), secret: call('double')(1000) },
    exports: { doubled: { returns: 'doubled', parameters: ['x'] } },
  };

  test('a DAG object does not run without the explicit opt-in', async () => {
    const engine = engineWith({ double: (x: number) => x * 2 });
    await expect(engine.execute(dag, { exports: ['doubled'], parameters: { x: 1 } })).rejects.toThrow(OpenQueryNotAllowedError);
    await expect(engine.execute(dag, { exports: ['doubled'], parameters: { x: 1 }, allowOpenQuery: true })).resolves.toEqual({ doubled: 2 });
    const devEngine = new QueryEngine({ functions: { double: (x: number) => x * 2 }, allowOpenQueries: true });
    await expect(devEngine.execute(dag, { exports: ['secret'] })).resolves.toEqual({ secret: 2000 });
  });

  test('a published query runs by name, and only its declared exports can be requested', async () => {
    const engine = engineWith({ double: (x: number) => x * 2 });
    engine.publishQuery('doubler', dag);
    await expect(engine.execute('doubler', { exports: ['doubled'], parameters: { x: 4 } })).resolves.toEqual({ doubled: 8 });
    const problems = await validationProblems(engine.execute('doubler', { exports: ['secret'] }));
    expect(problems).toEqual([{ node: 'exports.secret', message: 'no export named "secret"; available exports: doubled.' }]);
    await expect(engine.execute('nope', { exports: ['doubled'] })).rejects.toThrow(UnknownQueryError);
    expect(() => engine.publishQuery('doubler', dag)).toThrow(DuplicateQueryError);
    expect(engine.queryNames()).toEqual(['doubler']);
    expect(engine.exportsOf('doubler')).toEqual({ doubled: { returns: 'doubled', parameters: ['x'] } });
  });

  test('publishing copies the DAG and checks its structure', async () => {
    const engine = engineWith({ double: (x: number) => x * 2 });
    const mutable: QueryDag = structuredClone(dag);
    engine.publishQuery('copy', mutable);
    mutable.nodes.doubled = call('double')(1);
    await expect(engine.execute('copy', { exports: ['doubled'], parameters: { x: 5 } })).resolves.toEqual({ doubled: 10 });
    expect(() => engine.publishQuery('bad', { nodes: { a: variable('b') }, exports: { a: { returns: 'a' } } })).toThrow(
      'a: refers to variable "b", which is not a node of this DAG. Known nodes: a.',
    );
  });
});
