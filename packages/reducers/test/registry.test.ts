import {
  DecoratorModeError,
  DecoratorUsageError,
  EventField,
  KeyField,
  RegistrationError,
  ReducerRegistry,
  Scope,
  defineReducer,
  kvsPipeline,
  readReducerMethods,
  reducerModule,
  studentEventReducer,
  type LOEvent,
  type ReducerOutput,
} from '@learning-observer/reducers';

type Count = { count: number };

@reducerModule('lo_toy_sba.reducers', { context: 'org.ets.sba' })
class Base {
  step = 1;

  @studentEventReducer({ nullState: { count: 0 } })
  student_event_counter(_e: LOEvent, s: Count): ReducerOutput {
    const next = { count: s.count + this.step };
    return [next, next];
  }

  @kvsPipeline({ scope: [KeyField.STUDENT, new EventField('doc_id')], nullState: null, default: { count: 0 }, backend: 'cache' })
  per_doc(_e: LOEvent, s: Count | null): ReducerOutput {
    return [{ count: (s?.count ?? 0) + 1 }, false];
  }
}

@reducerModule('lo_toy_sba.more', { context: ['org.ets.sba', 'org.ets.other'] })
class Derived extends Base {
  override step = 10;

  // overrides the implementation, keeps the parent's decorator
  override per_doc(_e: LOEvent, _s: Count | null): ReducerOutput {
    return [{ count: 100 }, false];
  }

  @studentEventReducer({ nullState: [], qualname: 'renamed', module: 'custom.mod', context: 'org.x' })
  extra(_e: LOEvent, s: number[]): ReducerOutput {
    return [s, s];
  }
}

const event: LOEvent = { client: { source: 'org.ets.sba', event: 'x', doc_id: 'D' } };

describe('decorator metadata', () => {
  test('a base class declares its reducers', () => {
    const registry = new ReducerRegistry();
    const defs = registry.register(Base);
    expect(defs.map((d) => d.id)).toEqual(['lo_toy_sba.reducers.student_event_counter', 'lo_toy_sba.reducers.per_doc']);
    const [counter, perDoc] = defs;
    expect(counter).toMatchObject({
      module: 'lo_toy_sba.reducers',
      qualname: 'student_event_counter',
      contexts: ['org.ets.sba'],
      nullState: { count: 0 },
      defaultState: { count: 0 },
    });
    expect(counter.backend).toBeUndefined();
    expect(counter.scope.keyNames).toEqual(['STUDENT']);
    expect(perDoc.scope.keyNames).toEqual(['EventField.doc_id', 'STUDENT']);
    expect(perDoc.nullState).toBeNull();
    expect(perDoc.defaultState).toEqual({ count: 0 });
    expect(perDoc.backend).toBe('cache');
    expect(registry.get('lo_toy_sba.reducers.per_doc')).toBe(perDoc);
    expect(registry.size).toBe(2);
  });

  test('a subclass inherits reducers, overrides a method and adds its own', async () => {
    expect(readReducerMethods(Derived).map((m) => m.propertyKey)).toEqual(['student_event_counter', 'per_doc', 'extra']);
    const registry = new ReducerRegistry();
    const defs = registry.register(Derived);
    expect(defs.map((d) => [d.id, d.contexts])).toEqual([
      ['lo_toy_sba.more.student_event_counter', ['org.ets.sba', 'org.ets.other']],
      ['lo_toy_sba.more.per_doc', ['org.ets.sba', 'org.ets.other']],
      ['custom.mod.renamed', ['org.x']],
    ]);
    // `this` is the Derived instance, so the subclass's field and override are used
    expect(await defs[0].invoke(event, { count: 1 })).toEqual([{ count: 11 }, { count: 11 }]);
    expect(await defs[1].invoke(event, null)).toEqual([{ count: 100 }, false]);
    // the base class is unaffected
    const base = new ReducerRegistry().register(Base);
    expect(await base[1].invoke(event, null)).toEqual([{ count: 1 }, false]);
  });

  test('a subclass without its own @reducerModule inherits its parent\'s module name and context', async () => {
    class Plain extends Base {
      override step = 2;

      @studentEventReducer({ nullState: 0 })
      own(_e: LOEvent, n: number): ReducerOutput {
        return [n + 1, n + 1];
      }
    }
    const defs = new ReducerRegistry().register(Plain);
    expect(defs.map((d) => [d.id, d.module, d.contexts])).toEqual([
      ['lo_toy_sba.reducers.student_event_counter', 'lo_toy_sba.reducers', ['org.ets.sba']],
      ['lo_toy_sba.reducers.per_doc', 'lo_toy_sba.reducers', ['org.ets.sba']],
      ['lo_toy_sba.reducers.own', 'lo_toy_sba.reducers', ['org.ets.sba']],
    ]);
    expect(await defs[0].invoke(event, { count: 0 })).toEqual([{ count: 2 }, { count: 2 }]);
  });

  test('an instance keeps its configuration', async () => {
    const inst = new Base();
    inst.step = 5;
    const [counter] = new ReducerRegistry().register(inst);
    expect(counter.instance).toBe(inst);
    expect(await counter.invoke(event, { count: 0 })).toEqual([{ count: 5 }, { count: 5 }]);
  });

  test('base and derived modules register side by side (different module names)', () => {
    const registry = new ReducerRegistry();
    registry.registerAll([Base, Derived]);
    expect(registry.size).toBe(5);
  });

  test('defineReducer registers a plain function with thisArg', async () => {
    const registry = new ReducerRegistry();
    const cfg = { inc: 3 };
    const [def] = registry.register(
      defineReducer(
        { module: 'plain.mod', context: 'org.ets.sba', nullState: { count: 0 }, thisArg: cfg },
        function counter(this: typeof cfg, _e, s: Count) {
          return [{ count: s.count + this.inc }, false];
        },
      ),
    );
    expect(def.id).toBe('plain.mod.counter');
    expect(await def.invoke(event, { count: 1 })).toEqual([{ count: 4 }, false]);
  });
});

describe('invalid registrations', () => {
  function problems(fn: () => unknown): string[] {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(RegistrationError);
      return (err as RegistrationError).problems;
    }
    throw new Error('expected a RegistrationError');
  }

  test('duplicate ids within a module', () => {
    @reducerModule('dup', { context: 'c' })
    class Dup {
      @studentEventReducer({ nullState: 0 })
      a(): ReducerOutput { return [0, 0]; }
      @studentEventReducer({ nullState: 0, qualname: 'a' })
      b(): ReducerOutput { return [0, 0]; }
    }
    expect(problems(() => new ReducerRegistry().register(Dup))).toEqual([
      'Dup.b: duplicate reducer id dup.a (also declared by Dup.a). Give one of them another qualname or module.',
    ]);
  });

  test('duplicate ids across modules, and nothing registered on failure', () => {
    const registry = new ReducerRegistry();
    registry.register(Base);
    expect(problems(() => registry.register(Base))).toEqual([
      'Base.student_event_counter: duplicate reducer id lo_toy_sba.reducers.student_event_counter (already registered). Give one of them another qualname or module.',
      'Base.per_doc: duplicate reducer id lo_toy_sba.reducers.per_doc (already registered). Give one of them another qualname or module.',
    ]);
    @reducerModule('lo_toy_sba.reducers', { context: 'c' })
    class Clash {
      @studentEventReducer({ nullState: 0 })
      fine(): ReducerOutput { return [0, 0]; }
      @studentEventReducer({ nullState: 0 })
      per_doc(): ReducerOutput { return [0, 0]; }
    }
    expect(problems(() => registry.register(Clash))).toHaveLength(1);
    expect(registry.get('lo_toy_sba.reducers.fine')).toBeUndefined();
  });

  test('unsupported scope fields', () => {
    @reducerModule('m', { context: 'c' })
    class Bad {
      @kvsPipeline({ scope: new Scope([KeyField.CLASS, KeyField.STUDENT, KeyField.TEACHER]), nullState: 0 })
      r(): ReducerOutput { return [0, 0]; }
    }
    expect(problems(() => new ReducerRegistry().register(Bad))).toEqual([
      "Bad.r: unsupported scope fields CLASS, TEACHER for an event reducer; events only provide STUDENT (from auth metadata) and EventField('<name>') (from the event's client fields).",
    ]);
  });

  test('missing module name, missing context, bad context, bad scope entry', () => {
    class NoModule {
      @studentEventReducer({ nullState: 0 })
      r(): ReducerOutput { return [0, 0]; }
    }
    expect(problems(() => new ReducerRegistry().register(NoModule))).toEqual([
      "NoModule.r: missing module name; decorate the class with @reducerModule('<module>', { context: '<source>' }) or pass `module`.",
      "NoModule.r: missing context; declare the event source(s) with @reducerModule(name, { context: '<source>' }) or the `context` option.",
    ]);
    @reducerModule('m', { context: [] })
    class EmptyContext {
      @studentEventReducer({ nullState: 0 })
      r(): ReducerOutput { return [0, 0]; }
      @kvsPipeline({ nullState: 0, context: ['ok', ''], scope: ['EventField.a b'] })
      s(): ReducerOutput { return [0, 0]; }
    }
    expect(problems(() => new ReducerRegistry().register(EmptyContext))).toEqual([
      "EmptyContext.r: bad context []; give a non-empty source string or a non-empty list of them (e.g. 'org.mitros.writing_analytics').",
      'EmptyContext.s: bad context ["ok",""]; give a non-empty source string or a non-empty list of them (e.g. \'org.mitros.writing_analytics\').',
      'EmptyContext.s: bad scope: Invalid EventField name "a b": use only letters, digits, \'.\', \'-\' and \'_\' (at least one letter or digit), e.g. new EventField("doc_id").',
    ]);
  });

  test('nullState and default that are not JSON, missing nullState, bad backend, invalid names', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    @reducerModule('m', { context: 'c' })
    class BadState {
      @studentEventReducer({ nullState: { n: NaN } as never })
      a(): ReducerOutput { return [0, 0]; }
      @studentEventReducer({ nullState: 0, default: cyclic as never })
      b(): ReducerOutput { return [0, 0]; }
      @studentEventReducer({} as never)
      c(): ReducerOutput { return [0, 0]; }
      @studentEventReducer({ nullState: 0, backend: '' })
      d(): ReducerOutput { return [0, 0]; }
      @studentEventReducer({ nullState: 0, qualname: 'x,y' })
      e(): ReducerOutput { return [0, 0]; }
      @studentEventReducer({ nullState: 0, scope: [KeyField.STUDENT] } as never)
      f(): ReducerOutput { return [0, 0]; }
    }
    expect(problems(() => new ReducerRegistry().register(BadState))).toEqual([
      'BadState.a: nullState is not JSON (the value at $.n is NaN, which JSON cannot represent); use null, booleans, finite numbers, strings, arrays and plain objects.',
      'BadState.b: default is not JSON (the value at $.self is a circular reference); use null, booleans, finite numbers, strings, arrays and plain objects.',
      'BadState.c: missing nullState; give the state before the first event (null is allowed).',
      "BadState.d: backend must be the name of a configured store (e.g. 'redis_cache'); got \"\".",
      "BadState.e: invalid qualname \"x,y\"; use letters, digits, '.', '_', '-'.",
      'BadState.f: @studentEventReducer always uses the student scope; use @kvsPipeline({ scope, ... }) for another scope.',
    ]);
  });

  test('a class without reducers, a constructor that needs arguments, a non-module value', () => {
    class Empty {}
    @reducerModule('m', { context: 'c' })
    class NeedsArgs {
      constructor(readonly cfg: { n: number }) {
        if (!cfg) throw new Error('cfg required');
      }
      @studentEventReducer({ nullState: 0 })
      r(): ReducerOutput { return [0, 0]; }
    }
    expect(problems(() => new ReducerRegistry().registerAll([Empty, NeedsArgs, 42 as never]))).toEqual([
      'Empty: no reducers found; decorate its methods with @kvsPipeline or @studentEventReducer.',
      'NeedsArgs: could not be instantiated with no arguments (cfg required); register an instance instead.',
      'Cannot register 42: pass a @reducerModule class, an instance of one, or a defineReducer() spec.',
    ]);
    expect(new ReducerRegistry().register(new NeedsArgs({ n: 1 }))).toHaveLength(1);
  });

  test('the error message lists every problem', () => {
    class NoModule {
      @studentEventReducer({ nullState: 0 })
      r(): ReducerOutput { return [0, 0]; }
    }
    expect(() => new ReducerRegistry().register(NoModule)).toThrow(/^Reducer registration failed with 2 problems:\n {2}- NoModule\.r: missing module name/);
  });
});

describe('decorator misuse', () => {
  test('TC39 standard decorator calls are refused with a hint', () => {
    const method = studentEventReducer({ nullState: 0 }) as unknown as (v: unknown, ctx: unknown) => void;
    expect(() => method(function r() {}, { kind: 'method', name: 'r' })).toThrow(DecoratorModeError);
    expect(() => method(function r() {}, { kind: 'method', name: 'r' })).toThrow(/set "experimentalDecorators": true/);
    const cls = reducerModule('m', { context: 'c' }) as unknown as (v: unknown, ctx: unknown) => void;
    expect(() => cls(class {}, { kind: 'class', name: 'X' })).toThrow(
      '@reducerModule was compiled as a TC39 standard decorator. Learning Observer decorators use TypeScript legacy decorators: set "experimentalDecorators": true',
    );
  });

  test('static methods and properties are refused', () => {
    expect(() => {
      class S {
        @studentEventReducer({ nullState: 0 })
        static r(): ReducerOutput { return [0, 0]; }
      }
      return S;
    }).toThrow(DecoratorUsageError);
    const dec = kvsPipeline({ nullState: 0 }) as unknown as (t: object, k: string) => void;
    expect(() => dec({}, 'prop')).toThrow('@kvsPipeline decorates methods; prop is not a method (a property, getter or setter).');
  });
});
