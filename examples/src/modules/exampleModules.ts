import { ExampleModuleError } from './errors';
import { ActionSummaryModule, type ActionSummaryOptions } from './actionSummary/ActionSummaryModule';
import { ToyCounterModule } from './toyCounter/ToyCounterModule';
import { WritingObserverModule, type WritingObserverOptions } from './writingObserver/WritingObserverModule';

/** Options of {@link exampleModules}, per module. */
export interface ExampleModulesOptions {
  writingObserver?: WritingObserverOptions;
  actionSummary?: ActionSummaryOptions;
}

/** One entry of {@link EXAMPLE_MODULES}. */
export interface ExampleModuleInfo {
  /** Short name for command lines (`lo replay --modules writing_observer,toy_counter`). */
  readonly name: string;
  /** The reducer module name (first part of its reducer ids). */
  readonly module: string;
  /** One line saying what it computes. */
  readonly description: string;
  /** A configured instance, ready to register. */
  create(options?: ExampleModulesOptions): object;
}

/**
 * The example reducer modules, in the order the CLI registers them.
 *
 * @example
 * ```ts
 * for (const m of EXAMPLE_MODULES) console.log(`${m.name}: ${m.description}`);
 * ```
 */
export const EXAMPLE_MODULES: readonly ExampleModuleInfo[] = Object.freeze([
  {
    name: 'writing_observer',
    module: 'writing_observer.writing_analysis',
    description: WritingObserverModule.description,
    create: (options?: ExampleModulesOptions) => new WritingObserverModule(options?.writingObserver),
  },
  {
    name: 'toy_counter',
    module: 'lo_toy_sba.reducers',
    description: ToyCounterModule.description,
    create: () => new ToyCounterModule(),
  },
  {
    name: 'action_summary',
    module: 'lo_action_summary.reducers',
    description: ActionSummaryModule.description,
    create: (options?: ExampleModulesOptions) => new ActionSummaryModule(options?.actionSummary),
  },
]);

/**
 * One instance of every example module (optionally only those whose {@link ExampleModuleInfo.name}
 * is listed), to register with a pipeline.
 *
 * @example
 * ```ts
 * const pipeline = new ReducerPipeline({ modules: exampleModules(), store });
 * exampleModules({}, ['toy_counter']); // [ToyCounterModule]
 * ```
 */
export function exampleModules(options: ExampleModulesOptions = {}, names?: readonly string[]): object[] {
  if (names !== undefined) {
    const unknown = names.filter((n) => !EXAMPLE_MODULES.some((m) => m.name === n));
    if (unknown.length > 0) {
      throw new UnknownExampleModuleError(unknown);
    }
  }
  return EXAMPLE_MODULES.filter((m) => names === undefined || names.includes(m.name)).map((m) => m.create(options));
}

/**
 * A module name given to {@link exampleModules} that is not one of {@link EXAMPLE_MODULES}.
 *
 * @example
 * ```ts
 * exampleModules({}, ['nope']); // throws UnknownExampleModuleError listing the known names
 * ```
 */
export class UnknownExampleModuleError extends ExampleModuleError {
  constructor(readonly names: readonly string[]) {
    super(`Unknown example module${names.length > 1 ? 's' : ''} ${names.join(', ')}; choose from ${EXAMPLE_MODULES.map((m) => m.name).join(', ')}.`);
  }
}
