import { InMemoryKVS, type JsonValue, type KVStore } from '@learning-observer/kvs';
import type { ReducerError } from './errors';
import type { LOEvent } from './events';
import { KeyStateType } from './fields';
import { makeKey } from './keys';
import { ReducerPipeline, type ReducerFilter, type ReducerResult } from './pipeline';
import type { ReducerDefinition, ReducerModuleInput } from './registry';

/** Options of {@link runReducers}. */
export interface RunReducersOptions {
  /** Run only these reducers (ids or module names). */
  reducers?: ReducerFilter[];
  /** Tasks in flight at once (default: the pipeline's, from the stores' preference, else 32). */
  concurrency?: number;
  /** Use this store instead of a fresh `InMemoryKVS` (reducers with a `backend` still get fresh in-memory stores). */
  store?: KVStore;
}

/** What {@link runReducers} returns. */
export interface RunReducersResult {
  /** Every result, in completion order. */
  results: ReducerResult[];
  /** Every reducer failure. */
  errors: ReducerError[];
  /** The store reducers without a `backend` wrote to. */
  store: KVStore;
  /** Stores of reducers with a `backend` option, by backend name. */
  stores: Record<string, KVStore>;
  /** The reducers that ran. */
  definitions: readonly ReducerDefinition[];
  /**
   * The internal state of a reducer (its qualname, or its full id) for these key fields
   * (`{ STUDENT: 's1' }`, `{ STUDENT: 's1', 'EventField.doc_id': 'D1' }`), or `undefined`.
   */
  internal(reducer: string, fields: Record<string, string>): Promise<JsonValue | undefined>;
  /** The external state, as {@link RunReducersResult.internal}. */
  external(reducer: string, fields: Record<string, string>): Promise<JsonValue | undefined>;
  /** Every key and value of the default store (and of backend stores), sorted by key. */
  dump(): Promise<Record<string, JsonValue>>;
}

/**
 * Runs a reducer module over events against a fresh in-memory store, in one call: for unit tests
 * and notebooks. Reducer failures are collected in `errors` (the run goes on).
 *
 * @example
 * ```ts
 * const run = await runReducers(ToyReducers, [
 *   { client: { source: 'org.ets.sba', event: 'click' }, metadata: { auth: { safe_user_id: 's1' } } },
 *   { client: { source: 'org.ets.sba', event: 'click' }, metadata: { auth: { safe_user_id: 's1' } } },
 * ]);
 * await run.external('student_event_counter', { STUDENT: 's1' }); // { count: 2 }
 * ```
 */
export async function runReducers(
  modules: ReducerModuleInput | ReducerModuleInput[],
  events: Iterable<LOEvent> | AsyncIterable<LOEvent>,
  options: RunReducersOptions = {},
): Promise<RunReducersResult> {
  const store = options.store ?? new InMemoryKVS();
  const stores: Record<string, KVStore> = {};
  const router = {
    get: (name: string): KVStore => (name === 'default' ? store : (stores[name] ??= new InMemoryKVS())),
  };
  const pipeline = new ReducerPipeline({
    modules: Array.isArray(modules) ? modules : [modules],
    store,
    router,
    concurrency: options.concurrency,
    reducers: options.reducers,
  });
  const results: ReducerResult[] = [];
  const errors: ReducerError[] = [];
  const errSub = pipeline.errors$.subscribe((e) => errors.push(e));
  try {
    await new Promise<void>((resolve, reject) => {
      pipeline.run(events).subscribe({ next: (r) => results.push(r), error: reject, complete: resolve });
    });
  } finally {
    errSub.unsubscribe();
  }

  const find = (reducer: string): ReducerDefinition => {
    const exact = pipeline.definitions.find((d) => d.id === reducer);
    if (exact) return exact;
    const byName = pipeline.definitions.filter((d) => d.qualname === reducer);
    if (byName.length === 1) return byName[0];
    const known = pipeline.definitions.map((d) => d.id).join(', ');
    throw new Error(
      byName.length === 0
        ? `No reducer ${JSON.stringify(reducer)} ran; give a qualname or id among: ${known}.`
        : `Several reducers are named ${JSON.stringify(reducer)}; give the full id (${byName.map((d) => d.id).join(', ')}).`,
    );
  };
  const read = (type: KeyStateType) => async (reducer: string, fields: Record<string, string>) => {
    const def = find(reducer);
    const target = def.backend !== undefined ? router.get(def.backend) : store;
    return target.get(makeKey(def.id, fields, type));
  };
  return {
    results,
    errors,
    store,
    stores,
    definitions: pipeline.definitions,
    internal: read(KeyStateType.INTERNAL),
    external: read(KeyStateType.EXTERNAL),
    async dump() {
      const out: Record<string, JsonValue> = { ...(await store.dump()) };
      for (const s of Object.values(stores)) Object.assign(out, await s.dump());
      return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    },
  };
}
