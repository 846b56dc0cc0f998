import { Observable, Subject, type OperatorFunction } from 'rxjs';
import { KVS, assertJsonValue, cloneJson, InvalidValueError, type JsonValue, type KVStore, type TransactionResult } from '@learning-observer/kvs';
import { InvalidReducerResultError, ReducerError, ReducerFrameworkError, StoreResolutionError, describeValue } from './errors';
import { eventSourceOf, renderFieldValue, studentIdOf, type LOEvent } from './events';
import { EventField, KeyField, KeyStateType } from './fields';
import { escapeKeyValue } from './keys';
import { ReducerRegistry, type ReducerDefinition, type ReducerModuleInput } from './registry';

/**
 * What the pipeline emits for each (reducer, key, event) that ran: the key fields, both keys, and
 * the states written (`false` for a state the reducer chose not to write).
 *
 * @example
 * ```ts
 * pipeline.process(event).then((results) => results.forEach((r) => console.log(r.externalKey, r.external)));
 * ```
 */
export interface ReducerResult {
  reducerId: string;
  /** Key fields by key name (`STUDENT`, `EventField.doc_id`...), unescaped. */
  fields: Record<string, string>;
  internalKey: string;
  externalKey: string;
  /** The internal state written, or `false` when the reducer returned `false` (not written). */
  internal: JsonValue | false;
  /** The external state written, or `false` when the reducer returned `false` (not written). */
  external: JsonValue | false;
}

/** Anything with `get(name)` returning a store, e.g. a `KVSRouter`. */
export interface StoreRouter {
  get(name: string): KVStore;
}

/** Selects reducers: an id (`module.qualname`), a module name, or a predicate. */
export type ReducerFilter = string | ((def: ReducerDefinition) => boolean);

/** Options of {@link ReducerPipeline}. */
export interface ReducerPipelineOptions {
  /** Reducer modules to register (classes, instances, `defineReducer` specs). */
  modules?: ReducerModuleInput[];
  /** A registry to run (the `modules` are added to it). */
  registry?: ReducerRegistry;
  /** The store for every reducer without its own `backend`. Default: the router's `default`, else `KVS()`. */
  store?: KVStore;
  /** Where reducers' `backend` names (and, without `store`, `default`) are looked up. Default: the global `KVS`. */
  router?: StoreRouter;
  /** Maximum (reducer, key, event) tasks in flight at once. Default 32. */
  concurrency?: number;
  /** `continue` (default): report a failing reducer on `errors$` and go on; `stop`: also fail the stream / `process()`. */
  onError?: 'continue' | 'stop';
  /** Run only these reducers (ids or module names, or predicates). Default: all registered. */
  reducers?: ReducerFilter[];
}

interface Prepared {
  def: ReducerDefinition;
  id: string;
  store: KVStore;
  internalPrefix: string;
  externalPrefix: string;
  /** Key names in key order, and for each: `null` for STUDENT, else the client field to read. */
  keyNames: string[];
  clientFields: (string | null)[];
  nullState: JsonValue;
}

type Outcome = ReducerResult | ReducerError;

const NO_RESULTS: Promise<ReducerResult[]> = Promise.resolve([]);

/**
 * Runs registered reducers over events: for each event, the reducers whose context matches the
 * event's source, one state key per reducer (from its scope), through the store's atomic
 * `transaction`: read the internal state (missing: a deep copy of `nullState`, not written first),
 * call the reducer, write internal and external state (a literal `false` skips that write).
 *
 * Ordering: per internal key, events are applied one at a time in arrival order; different keys
 * run concurrently, at most `concurrency` at a time. Idle keys hold no memory.
 *
 * Three ways in:
 * - `process(event)`: one event, resolves with its results (for servers handling one message at a time).
 * - `run(iterable)`: pulls events from an (async) iterable only while fewer than `concurrency`
 *   tasks are in flight, so a slow store slows the reading instead of filling memory.
 * - `operator()`: an RxJS operator for push sources (see {@link ReducerPipeline.operator}).
 *
 * @example
 * ```ts
 * const pipeline = new ReducerPipeline({ modules: [ToyReducers], store: new InMemoryKVS() });
 * pipeline.errors$.subscribe((e) => console.error(e.message));
 * await lastValueFrom(pipeline.run(readEvents('log.jsonl')).pipe(count()));
 * ```
 */
export class ReducerPipeline {
  /** Every reducer failure (also in `stop` mode). */
  readonly errors$: Observable<ReducerError>;
  /** The registry this pipeline runs. */
  readonly registry: ReducerRegistry;
  /** The reducers this pipeline runs (after the `reducers` filter). */
  readonly definitions: readonly ReducerDefinition[];
  readonly concurrency: number;
  readonly onError: 'continue' | 'stop';

  private readonly errorSubject = new Subject<ReducerError>();
  private readonly bySource = new Map<string, Prepared[]>();
  /** Tail of each internal key's chain of tasks; deleted when the key goes idle. */
  private readonly chains = new Map<string, Promise<Outcome>>();
  private running = 0;
  private readonly waiters: Array<() => void> = [];
  private waitersHead = 0;
  private unobservedErrorWarned = false;

  constructor(options: ReducerPipelineOptions = {}) {
    const concurrency = options.concurrency ?? 32;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ReducerFrameworkError(`concurrency must be a positive integer; got ${describeValue(concurrency)}.`);
    }
    const onError = options.onError ?? 'continue';
    if (onError !== 'continue' && onError !== 'stop') {
      throw new ReducerFrameworkError(`onError must be 'continue' or 'stop'; got ${describeValue(onError)}.`);
    }
    this.concurrency = concurrency;
    this.onError = onError;
    this.errors$ = this.errorSubject.asObservable();

    this.registry = options.registry ?? new ReducerRegistry();
    if (options.modules?.length) this.registry.registerAll(options.modules);
    let defs = this.registry.definitions();
    if (options.reducers) defs = selectReducers(defs, options.reducers);
    if (defs.length === 0) {
      throw new ReducerFrameworkError(
        'The pipeline has no reducers: pass `modules` (decorated classes, instances or defineReducer specs) or a `registry` with reducers.',
      );
    }
    this.definitions = Object.freeze(defs);

    const resolve = storeResolver(options);
    for (const def of defs) {
      const prepared: Prepared = {
        def,
        id: def.id,
        store: resolve(def),
        internalPrefix: `${KeyStateType.INTERNAL},${def.id}`,
        externalPrefix: `${KeyStateType.EXTERNAL},${def.id}`,
        keyNames: [...def.scope.keyNames],
        clientFields: def.scope.fields.map((f) => (f instanceof EventField ? f.name : f === KeyField.STUDENT ? null : f)),
        nullState: def.nullState,
      };
      for (const context of def.contexts) {
        const list = this.bySource.get(context);
        if (list) list.push(prepared);
        else this.bySource.set(context, [prepared]);
      }
    }
  }

  /** Number of keys with queued or running work (0 when idle). */
  get activeKeys(): number {
    return this.chains.size;
  }

  /** Resolves once every task started so far has finished. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all(this.chains.values());
  }

  /**
   * Runs one event through every matching reducer. Resolves with the results of the reducers that
   * ran (skipped ones and, with `onError: 'continue'`, failed ones are left out); with
   * `onError: 'stop'` rejects with the first `ReducerError`. Shares per-key ordering with `run` and
   * `operator`: a call made after another is applied after it, key by key.
   *
   * @example
   * ```ts
   * const results = await pipeline.process({ client: { source: 'org.ets.sba', event: 'click' } });
   * ```
   */
  process(event: LOEvent): Promise<ReducerResult[]> {
    const tasks = this.start(event);
    if (tasks === undefined) return NO_RESULTS;
    return Promise.all(tasks).then((outcomes) => {
      const results: ReducerResult[] = [];
      for (const o of outcomes) {
        if (o instanceof ReducerError) {
          if (this.onError === 'stop') throw o;
        } else {
          results.push(o);
        }
      }
      return results;
    });
  }

  /**
   * Runs every event of `source` (an iterable or async iterable, e.g. a log reader) and emits the
   * results. Pulls the next event only while fewer than `concurrency` tasks are in flight
   * (backpressure). Completes when the source is exhausted and every task has finished. With
   * `onError: 'stop'` the observable errors with the first `ReducerError` and stops reading
   * (tasks already running finish). Unsubscribing stops reading (and calls the iterator's `return`).
   *
   * @example
   * ```ts
   * const results = await lastValueFrom(pipeline.run(events).pipe(toArray()));
   * ```
   */
  run(source: AsyncIterable<LOEvent> | Iterable<LOEvent>): Observable<ReducerResult> {
    return new Observable<ReducerResult>((subscriber) => {
      const isAsync = typeof (source as Partial<AsyncIterable<LOEvent>>)[Symbol.asyncIterator] === 'function';
      const it: AsyncIterator<LOEvent> | Iterator<LOEvent> = isAsync
        ? (source as AsyncIterable<LOEvent>)[Symbol.asyncIterator]()
        : (source as Iterable<LOEvent>)[Symbol.iterator]();
      let inFlight = 0;
      let exhausted = false;
      let stopped = false;
      let pulling = false;

      const finishIfDone = () => {
        if (!stopped && exhausted && inFlight === 0) {
          stopped = true;
          subscriber.complete();
        }
      };
      const fail = (err: unknown) => {
        if (stopped) return;
        stopped = true;
        subscriber.error(err);
      };
      const onOutcome = (o: Outcome) => {
        inFlight--;
        if (stopped) return;
        if (o instanceof ReducerError) {
          if (this.onError === 'stop') return fail(o);
        } else {
          subscriber.next(o);
        }
        if (!exhausted) void pump();
        finishIfDone();
      };
      const pump = async () => {
        if (pulling) return;
        pulling = true;
        try {
          while (!stopped && !exhausted && inFlight < this.concurrency) {
            const next = await it.next();
            if (stopped) break;
            if (next.done) {
              exhausted = true;
              break;
            }
            const tasks = this.start(next.value);
            if (tasks === undefined) continue;
            inFlight += tasks.length;
            for (const t of tasks) void t.then(onOutcome);
          }
        } catch (err) {
          fail(err);
        } finally {
          pulling = false;
        }
        finishIfDone();
      };
      void pump();
      return () => {
        if (!stopped) {
          stopped = true;
          try {
            const r = it.return?.();
            if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, () => undefined);
          } catch {
            // the source's own cleanup failed; nothing more to do after unsubscribing
          }
        }
      };
    });
  }

  /**
   * An RxJS operator: `events$.pipe(pipeline.operator())` emits a {@link ReducerResult} per
   * (reducer, key, event) that ran. At most `concurrency` tasks are in flight; events that arrive
   * while the pipeline is saturated wait in a FIFO buffer (arrival order is kept). A push source
   * cannot be slowed down, so that buffer grows while the source outpaces the store: for files and
   * other sources you can pull from, prefer {@link ReducerPipeline.run}, or throttle the source.
   * With `onError: 'stop'` the output errors with the first `ReducerError`.
   *
   * @example
   * ```ts
   * webSocketEvents$.pipe(pipeline.operator()).subscribe((r) => notifyDashboards(r.externalKey));
   * ```
   */
  operator(): OperatorFunction<LOEvent, ReducerResult> {
    return (source$) =>
      new Observable<ReducerResult>((subscriber) => {
        const buffer: LOEvent[] = [];
        let head = 0;
        let inFlight = 0;
        let sourceDone = false;
        let stopped = false;

        const finishIfDone = () => {
          if (!stopped && sourceDone && inFlight === 0 && head === buffer.length) {
            stopped = true;
            subscriber.complete();
          }
        };
        const fail = (err: unknown) => {
          if (stopped) return;
          stopped = true;
          subscriber.error(err);
          sub.unsubscribe();
        };
        const onOutcome = (o: Outcome) => {
          inFlight--;
          if (stopped) return;
          if (o instanceof ReducerError) {
            if (this.onError === 'stop') return fail(o);
          } else {
            subscriber.next(o);
          }
          drain();
          finishIfDone();
        };
        const drain = () => {
          while (!stopped && inFlight < this.concurrency && head < buffer.length) {
            const event = buffer[head];
            buffer[head++] = undefined as unknown as LOEvent;
            if (head > 1024 && head * 2 > buffer.length) {
              buffer.splice(0, head);
              head = 0;
            }
            const tasks = this.start(event);
            if (tasks === undefined) continue;
            inFlight += tasks.length;
            for (const t of tasks) void t.then(onOutcome);
          }
        };
        const sub = source$.subscribe({
          next: (event) => {
            if (stopped) return;
            buffer.push(event);
            drain();
          },
          error: (err) => fail(err),
          complete: () => {
            sourceDone = true;
            finishIfDone();
          },
        });
        return () => {
          stopped = true;
          sub.unsubscribe();
        };
      });
  }

  /** Starts the tasks of one event; `undefined` when no reducer applies. Tasks never reject. */
  private start(event: LOEvent): Promise<Outcome>[] | undefined {
    const source = eventSourceOf(event);
    if (source === undefined) return undefined;
    const reducers = this.bySource.get(source);
    if (reducers === undefined) return undefined;
    let tasks: Promise<Outcome>[] | undefined;
    for (const r of reducers) {
      const fields: Record<string, string> = {};
      let suffix = '';
      let skip = false;
      for (let i = 0; i < r.keyNames.length; i++) {
        const clientField = r.clientFields[i];
        const value = clientField === null ? studentIdOf(event) : renderFieldValue(event.client[clientField]);
        if (value === undefined) {
          skip = true;
          break;
        }
        fields[r.keyNames[i]] = value;
        suffix += `,${r.keyNames[i]}:${escapeKeyValue(value)}`;
      }
      if (skip) continue;
      const task = this.enqueue(r, event, fields, r.internalPrefix + suffix, r.externalPrefix + suffix);
      if (tasks) tasks.push(task);
      else tasks = [task];
    }
    return tasks;
  }

  private enqueue(r: Prepared, event: LOEvent, fields: Record<string, string>, internalKey: string, externalKey: string): Promise<Outcome> {
    const chainKey = internalKey;
    const prev = this.chains.get(chainKey);
    const task =
      prev === undefined
        ? this.execute(r, event, fields, internalKey, externalKey)
        : prev.then(() => this.execute(r, event, fields, internalKey, externalKey));
    this.chains.set(chainKey, task);
    void task.then(() => {
      if (this.chains.get(chainKey) === task) this.chains.delete(chainKey);
    });
    return task;
  }

  private async execute(r: Prepared, event: LOEvent, fields: Record<string, string>, internalKey: string, externalKey: string): Promise<Outcome> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.running++;
    try {
      let internal: JsonValue | false = false;
      let external: JsonValue | false = false;
      await r.store.transaction(internalKey, async (current): Promise<TransactionResult> => {
        const state = current === undefined ? cloneJson(r.nullState) : current;
        const output = await r.def.invoke(event, state);
        [internal, external] = checkOutput(r.id, internalKey, externalKey, output);
        return external === false
          ? { value: internal === false ? undefined : internal }
          : { value: internal === false ? undefined : internal, alsoSet: { [externalKey]: external } };
      });
      return { reducerId: r.id, fields, internalKey, externalKey, internal, external };
    } catch (cause) {
      const error = new ReducerError(r.id, internalKey, event, cause);
      this.report(error);
      return error;
    } finally {
      this.release();
    }
  }

  private release(): void {
    if (this.waitersHead < this.waiters.length) {
      const next = this.waiters[this.waitersHead];
      this.waiters[this.waitersHead++] = undefined as unknown as () => void;
      if (this.waitersHead === this.waiters.length) {
        this.waiters.length = 0;
        this.waitersHead = 0;
      } else if (this.waitersHead > 1024 && this.waitersHead * 2 > this.waiters.length) {
        this.waiters.splice(0, this.waitersHead);
        this.waitersHead = 0;
      }
      next(); // hands our slot over: `running` stays the same
    } else {
      this.running--;
    }
  }

  private report(error: ReducerError): void {
    if (!this.errorSubject.observed && this.onError === 'continue' && !this.unobservedErrorWarned) {
      this.unobservedErrorWarned = true;
      process.emitWarning(
        `${error.message} (Further reducer errors are only reported on pipeline.errors$; subscribe to it to see them.)`,
        'ReducerWarning',
      );
    }
    this.errorSubject.next(error);
  }
}

/** Validates what a reducer returned; returns the pair. */
function checkOutput(id: string, internalKey: string, externalKey: string, output: unknown): [JsonValue | false, JsonValue | false] {
  if (!Array.isArray(output) || output.length !== 2) {
    throw new InvalidReducerResultError(
      `Reducer ${id} must return [internalState, externalState] (use false for a state not to write); it returned ${describeValue(output)}.`,
    );
  }
  const [internal, external] = output as [unknown, unknown];
  checkState(id, 'internal', internalKey, internal);
  checkState(id, 'external', externalKey, external);
  return [internal as JsonValue | false, external as JsonValue | false];
}

function checkState(id: string, which: string, key: string, value: unknown): void {
  if (value === false) return;
  try {
    assertJsonValue(key, value);
  } catch (err) {
    if (err instanceof InvalidValueError) {
      throw new InvalidReducerResultError(
        `Reducer ${id} returned a ${which} state that is not JSON: the value at ${err.path} ${err.reason}. ` +
          'Return only null, booleans, finite numbers, strings, arrays and plain objects (or false to skip the write).',
      );
    }
    throw err;
  }
}

function selectReducers(defs: ReducerDefinition[], filters: ReducerFilter[]): ReducerDefinition[] {
  const unmatched = filters.filter((f) => typeof f === 'string' && !defs.some((d) => d.id === f || d.module === f));
  if (unmatched.length > 0) {
    throw new ReducerFrameworkError(
      `Unknown reducer ${unmatched.map((u) => JSON.stringify(u)).join(', ')}: the registered reducers are ` +
        `${defs.map((d) => d.id).join(', ') || '(none)'}. Give reducer ids or module names.`,
    );
  }
  return defs.filter((d) => filters.some((f) => (typeof f === 'string' ? d.id === f || d.module === f : f(d))));
}

function storeResolver(options: ReducerPipelineOptions): (def: ReducerDefinition) => KVStore {
  const cache = new Map<string, KVStore>();
  const lookup = (name: string, forWhat: string): KVStore => {
    let store = cache.get(name);
    if (store) return store;
    try {
      store = options.router ? options.router.get(name) : name === 'default' ? KVS() : KVS[name]();
    } catch (err) {
      throw new StoreResolutionError(
        `Cannot find the store for ${forWhat}: ${(err as Error)?.message ?? String(err)} ` +
          `Configure a backend named "${name}" (configureKVS / creds.yaml), or pass \`router\` (or \`store\`) to the pipeline.`,
        { cause: err },
      );
    }
    cache.set(name, store);
    return store;
  };
  return (def) => {
    if (def.backend !== undefined) return lookup(def.backend, `reducer ${def.id} (backend "${def.backend}")`);
    if (options.store) return options.store;
    return lookup('default', `reducer ${def.id} (default backend)`);
  };
}
