// Compiles small decorated classes with the real TypeScript compiler, once with TC39 standard
// decorators (`experimentalDecorators: false`) and once with legacy ones, and runs the output
// against the real decorators: the TC39 build must fail with DecoratorModeError.
import ts from 'typescript';
import * as reducers from '@learning-observer/reducers';
import { DecoratorModeError, ReducerRegistry } from '@learning-observer/reducers';

/** Compiles `source` to CommonJS, runs it with `require('@learning-observer/reducers')` = the src module, returns its exports. */
function compileAndRun(source: string, experimentalDecorators: boolean): { js: string; run: () => Record<string, unknown> } {
  const { outputText: js } = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, experimentalDecorators, esModuleInterop: true },
    reportDiagnostics: false,
  });
  const requireStub = (name: string): unknown => {
    if (name === '@learning-observer/reducers') return reducers;
    throw new Error(`unexpected require(${JSON.stringify(name)})`);
  };
  return {
    js,
    run: () => {
      const exports: Record<string, unknown> = {};
      new Function('require', 'exports', js)(requireStub, exports);
      return exports;
    },
  };
}

const CLASS_ONLY = `
import { reducerModule } from '@learning-observer/reducers';
@reducerModule('tc39.mod', { context: 'org.test' })
export class OnlyModule {}
`;

const WITH_METHOD = `
import { reducerModule, studentEventReducer } from '@learning-observer/reducers';
@reducerModule('tc39.mod', { context: 'org.test' })
export class Counter {
  @studentEventReducer({ nullState: { count: 0 } })
  count(_event: unknown, state: { count: number }) {
    const next = { count: state.count + 1 };
    return [next, next];
  }
}
`;

describe('a decorator compiled in the wrong decorator mode (real TypeScript output)', () => {
  test('TC39 standard decorators (experimentalDecorators: false): a method decorator throws DecoratorModeError', () => {
    const { js, run } = compileAndRun(WITH_METHOD, false);
    expect(js).toContain('__esDecorate'); // really the TC39 emit, not the legacy __decorate
    expect(run).toThrow(DecoratorModeError);
    expect(run).toThrow(
      '@studentEventReducer was compiled as a TC39 standard decorator. Learning Observer decorators use TypeScript legacy ' +
        'decorators: set "experimentalDecorators": true in your tsconfig.json (compilerOptions), or register plain functions ' +
        'with defineReducer() instead.',
    );
  });

  test('TC39 standard decorators: a class decorator throws DecoratorModeError', () => {
    const { js, run } = compileAndRun(CLASS_ONLY, false);
    expect(js).toContain('__esDecorate');
    expect(run).toThrow(
      '@reducerModule was compiled as a TC39 standard decorator. Learning Observer decorators use TypeScript legacy decorators: ' +
        'set "experimentalDecorators": true',
    );
  });

  test('the same source compiled with experimentalDecorators: true registers and runs', async () => {
    const { js, run } = compileAndRun(WITH_METHOD, true);
    expect(js).not.toContain('__esDecorate');
    const { Counter } = run() as { Counter: Function };
    const [def] = new ReducerRegistry().register(Counter);
    expect(def.id).toBe('tc39.mod.count');
    expect(await def.invoke({ client: { source: 'org.test' } }, { count: 1 })).toEqual([{ count: 2 }, { count: 2 }]);
  });
});
