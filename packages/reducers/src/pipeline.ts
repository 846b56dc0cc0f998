import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';
import { KVS, assertJsonValue, cloneJson, InvalidValueError, type JsonValue, type KVStore, type TransactionResult } from '@learning-observer/kvs';
import { BufferOverflowError, EventMigrationError, InvalidReducerResultError, ReducerError, ReducerFrameworkError, StoreResolutionError, UnknownReducerError, describeValue } from './errors';
import { eventSourceOf, renderFieldValue, studentIdOf, type LOEvent } from './events';
import type { EventMigrator } from './eventMigrator';
import { EventField, KeyField, KeyStateType } from './fields';
import { escapeKeyValue } from './keys';
import { ReducerRegistry, type ReducerDefinition, type ReducerModuleInput } from './registry';
import { StoreRetrier, sequenceOf, unwrapSequenced, wrapSequenced, type RetryOptions, type SequenceFn } from './resume';

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
  /** Key fields by key name (`STUDENT`, `EventField.doc_id`...), unescaped. Frozen: results of one key may share it. */
  fields: Readonly<Record<string, string>>;
  internalKey: string;
  externalKey: string;
  /** The internal state written, or `false` when the reducer returned `false` (not written). */
  internal: JsonValue | false;
  /** The external state written, or `false` when the reducer returned `false` (not written). */
  external: JsonValue | false;
  /**
   * Resume mode only: `true` when the event was not applied because the key's stored position
   * shows it already was (`internal` and `external` are then `false`).
   */
  skipped?: true;
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
  /**
   * Maximum (reducer, key, event) tasks in flight at once. Default: the least
   * `KVStore.preferredConcurrency` of the pipeline's stores (Redis prefers 256; in-memory stores
   * set no limit; a store without a preference counts as 32), and 32 when none sets a limit.
   */
  concurrency?: number;
  /** `continue` (default): report a failing reducer on `errors$` and go on; `stop`: also fail the stream / `process()`. */
  onError?: 'continue' | 'stop';
  /** Run only these reducers (ids or module names, or predicates). Default: all registered. */
  reducers?: ReducerFilter[];
  /**
   * Batched mode: apply events in batches of up to this many. Per batch, the states of every key
   * the batch touches are read at once (`multiget`), the batch's events are applied to them in
   * memory, in order, and each changed key is written once (`setMany`: one MSET on Redis). Much
   * faster than per-event writes, but the batch is the unit of durability (a crash loses the
   * batch being applied, not just one event) and the pipeline must be the only writer of its keys
   * while it runs (the final write is blind). Default: unset, every event's state is written
   * through an atomic `transaction` before the next event of that key is applied.
   */
  batchSize?: number;
  /**
   * Resume mode: the replay position of an event (a whole number >= 0, increasing in log order,
   * the same on every run over the same input). Each internal state is then stored together with
   * the position of the last event applied to it, `{ "__lo_seq": n, "state": ... }` (the reducer
   * sees only `state`), and an event whose position is not above the stored one is skipped: a
   * replay restarted from the beginning after a crash applies each event once per key. Internal
   * states are stored in that format only in this mode (see `unwrapSequenced`).
   */
  sequence?: SequenceFn;
  /**
   * Wait out an unavailable store: a store operation failing with `StoreUnavailableError` is
   * retried `attempts` times, `delayMs` apart, before the error is reported. Without `sequence`,
   * a retried transaction whose first reply was lost may apply its event twice; with it, never.
   */
  retry?: RetryOptions;
  /**
   * `operator()` only: the most events that may wait in its buffer (per subscription) while
   * `concurrency` tasks are in flight, or while a batch runs. A push source cannot be slowed
   * down, so when one more event arrives the output errors with a {@link BufferOverflowError}
   * (and unsubscribes from the source) instead of letting memory grow without bound.
   * Default 10,000, and never less than `batchSize`. `run()` and `process()` do not buffer.
   */
  maxBuffered?: number;
}

/** Default of {@link ReducerPipelineOptions.maxBuffered}. */
export const DEFAULT_MAX_BUFFERED = 10_000;

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
  /** The module's event migrator, if it declares one. */
  migrate: EventMigrator | undefined;
  /** The store offers `eagerTransaction` (synchronous commits). */
  eager: boolean;
  /** The store offers `transactionWithCallbacks` (no Promise per transaction). */
  callbacks: boolean;
  /** Recently used keys: nested maps, one level per key field, leaves are {@link KeyInfo}. */
  keyCache: Map<string, unknown>;
  keyCacheSize: number;
  /** Scratch space for one event's key field values. */
  values: string[];
}

/** The key fields and both state keys of one key (frozen `fields`, shared by its results). */
interface KeyInfo {
  fields: Readonly<Record<string, string>>;
  internalKey: string;
  externalKey: string;
  /** `{ [externalKey]: state }`, refilled by each task of the key (see finishTask). */
  alsoSet: Record<string, JsonValue> | undefined;
}

/** Keys a reducer's key cache holds before it starts over (bounds its memory). */
const KEY_CACHE_LIMIT = 16_384;

type Outcome = ReducerResult | ReducerError;
/** Where a task's outcome goes when it is not known at once (see {@link ReducerPipeline.start}). */
type Sink = (outcome: Outcome) => void;
/** Stands for an outcome that will go to the sink given to `start`. */
const PENDING: unique symbol = Symbol('pending');
type Pending = typeof PENDING;
/** One task's outcome, or its Promise, or {@link PENDING}. */
type TaskOutcome = Outcome | Promise<Outcome> | Pending;
/** What {@link ReducerPipeline.start} returns: one task's outcome, or several. */
type Started = TaskOutcome | TaskOutcome[];

/** One (reducer, key, event) to apply, and the states it wrote (`false`: none). */
interface Task {
  r: Prepared;
  /** The event as given (for `sequence` and error reports). */
  event: LOEvent;
  /** What the reducer sees: `event`, or its module's migration of it. */
  input: LOEvent;
  key: KeyInfo;
  fields: Readonly<Record<string, string>>;
  internalKey: string;
  externalKey: string;
  internal: JsonValue | false;
  external: JsonValue | false;
  /** Resume mode: the event's position, and whether it was skipped as already applied. */
  seq: number;
  skipped: boolean;
  /**
   * Where the outcome goes when it is not known at once: the sink given to `start`, or the resolve
   * function of the Promise `enqueue` returned for a task that waited for its key.
   */
  resolve: Sink | undefined;
}

function newTask(r: Prepared, event: LOEvent, input: LOEvent, key: KeyInfo, sink: Sink | undefined): Task {
  return {
    r,
    event,
    input,
    key,
    fields: key.fields,
    internalKey: key.internalKey,
    externalKey: key.externalKey,
    internal: false,
    external: false,
    seq: -1,
    skipped: false,
    resolve: sink,
  };
}

/** A Promise of `t`'s outcome, for a caller without a sink: `finish` settles it through `t.resolve`. */
function outcomePromise(t: Task): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    t.resolve = resolve;
  });
}

/** The tasks waiting for a key whose task is running, in order; `null` until one waits. */
type Waiting = Task[] | null;

/** The working state of one internal key during a batch. */
interface Slot {
  state: JsonValue | undefined;
  /** `state` is a reducer's output (shared with its result): copy it before the next call. */
  shared: boolean;
  dirty: boolean;
  /**
   * A call was handed `state` itself and then failed or returned `false` for the internal state:
   * it may have changed `state` in place, so the state is read from the store again before the
   * next call (the store still holds the batch's starting value: batches write at the end).
   */
  stale: boolean;
  /** Resume mode: the position of the last event applied to `state` (-1: none). */
  seq: number;
}

/** What one batch reads and writes in one store. */
interface StoreBatch {
  slots: Map<string, Slot>;
  externals: Map<string, JsonValue>;
  tasks: number[];
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** Yields to the event loop (lets I/O and timers run during long synchronous stretches). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Synchronously completed events a pump handles before yielding to the event loop. */
const YIELD_EVERY = 2048;

const NO_RESULTS: Promise<ReducerResult[]> = Promise.resolve([]);

/**
 * Runs registered reducers over events: for each event, the reducers whose context matches the
 * event's source, one state key per reducer (from its scope), through the store's atomic
 * `transaction`: read the internal state (missing: a deep copy of `nullState`, not written first),
 * call the reducer, write internal and external state (a literal `false` skips that write).
 *
 * Ordering: per internal key, events are applied one at a time in arrival order; different keys
 * run concurrently, at most `concurrency` at a time. Idle keys hold no memory. On a store with
 * `eagerTransaction` (in memory), a synchronous reducer on an idle key runs at once, with no
 * Promise in between.
 *
 * Batched mode (`batchSize`): events are applied a batch at a time, each key read once and
 * written once per batch (see {@link ReducerPipelineOptions.batchSize} for the trade-off).
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
 * async function* events() { for await (const { event } of readLogEvents('log.jsonl')) yield event; }
 * await lastValueFrom(pipeline.run(events()).pipe(count()));
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
  /** Events per batch in batched mode; `undefined` in the default per-event mode. */
  readonly batchSize: number | undefined;
  /** Most events one `operator()` subscription buffers before it errors (see {@link ReducerPipelineOptions.maxBuffered}). */
  readonly maxBuffered: number;

  private readonly errorSubject = new Subject<ReducerError>();
  private readonly bySource = new Map<string, Prepared[]>();
  /** Internal keys with a task running or waiting (per-event mode); tasks of one key run in order. */
  private readonly chains = new Map<string, Waiting>();
  /** `idle()` calls waiting for `chains` to empty. */
  private idleWaiters: (() => void)[] = [];
  private running = 0;
  private readonly waiters: Array<() => void> = [];
  private waitersHead = 0;
  /** Events waiting in the buffers of every `operator()` subscription. */
  private buffered = 0;
  private unobservedErrorWarned = false;
  /** Batched mode: the batch running or last run; batches run one after another. */
  private batchTail: Promise<unknown> = Promise.resolve();
  private batchesPending = 0;
  private readonly sequence: SequenceFn | undefined;
  private readonly retrier: StoreRetrier | undefined;

  constructor(options: ReducerPipelineOptions = {}) {
    const concurrency = options.concurrency;
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
      throw new ReducerFrameworkError(`concurrency must be a positive integer; got ${describeValue(concurrency)}.`);
    }
    const onError = options.onError ?? 'continue';
    if (onError !== 'continue' && onError !== 'stop') {
      throw new ReducerFrameworkError(`onError must be 'continue' or 'stop'; got ${describeValue(onError)}.`);
    }
    const batchSize = options.batchSize;
    if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) {
      throw new ReducerFrameworkError(`batchSize must be a positive integer (events per batch); got ${describeValue(batchSize)}.`);
    }
    const maxBuffered = options.maxBuffered ?? Math.max(DEFAULT_MAX_BUFFERED, batchSize ?? 0);
    if (!Number.isInteger(maxBuffered) || maxBuffered < 1) {
      throw new ReducerFrameworkError(`maxBuffered must be a positive integer (events operator() may buffer); got ${describeValue(maxBuffered)}.`);
    }
    if (batchSize !== undefined && maxBuffered < batchSize) {
      throw new ReducerFrameworkError(
        `maxBuffered (${maxBuffered}) must be at least batchSize (${batchSize}): operator() buffers a whole batch before it starts one. Raise maxBuffered or lower batchSize.`,
      );
    }
    this.onError = onError;
    this.batchSize = batchSize;
    this.maxBuffered = maxBuffered;
    this.errors$ = this.errorSubject.asObservable();
    this.sequence = options.sequence;
    this.retrier = options.retry ? new StoreRetrier(options.retry) : undefined;

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
    const stores = new Set<KVStore>();
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
        migrate: def.migrate,
        eager: false,
        callbacks: false,
        keyCache: new Map(),
        keyCacheSize: 0,
        values: [],
      };
      prepared.eager = 'eagerTransaction' in prepared.store && typeof prepared.store.eagerTransaction === 'function';
      prepared.callbacks = !prepared.eager && typeof prepared.store.transactionWithCallbacks === 'function';
      stores.add(prepared.store);
      for (const context of def.contexts) {
        const list = this.bySource.get(context);
        if (list) list.push(prepared);
        else this.bySource.set(context, [prepared]);
      }
    }
    this.concurrency = concurrency ?? defaultConcurrency(stores);
  }

  /** Number of keys with queued or running work (0 when idle; in batched mode, batches waiting or running). */
  get activeKeys(): number {
    return this.chains.size + this.batchesPending;
  }

  /**
   * Events waiting in `operator()` buffers right now (every subscription together): events that
   * arrived while `concurrency` tasks were in flight (or, in batched mode, not yet in a batch).
   * Each subscription holds at most `maxBuffered`.
   */
  get bufferedEvents(): number {
    return this.buffered;
  }

  /** Resolves once every task started so far has finished. */
  async idle(): Promise<void> {
    while (this.chains.size > 0 || this.batchesPending > 0) {
      if (this.chains.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      await this.batchTail;
    }
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
    if (this.batchSize !== undefined) return this.runBatch([event]).then((outcomes) => this.collect(outcomes));
    // (without a sink, every entry is an outcome or its Promise)
    const started = this.start(event) as Outcome | Promise<Outcome> | (Outcome | Promise<Outcome>)[] | undefined;
    if (started === undefined) return NO_RESULTS;
    const tasks = Array.isArray(started) ? started : [started];
    if (tasks.every((t) => !(t instanceof Promise))) {
      try {
        return Promise.resolve(this.collect(tasks as Outcome[]));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return Promise.all(tasks).then((outcomes) => this.collect(outcomes));
  }

  /** The results among `outcomes`; with `onError: 'stop'` throws the first error. */
  private collect(outcomes: readonly Outcome[]): ReducerResult[] {
    const results: ReducerResult[] = [];
    for (const o of outcomes) {
      if (o instanceof ReducerError) {
        if (this.onError === 'stop') throw o;
      } else {
        results.push(o);
      }
    }
    return results;
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
        if (!exhausted) pullMore();
        finishIfDone();
      };
      /** Emits an outcome that completed synchronously; false once the stream has stopped. */
      const deliver = (o: Outcome): boolean => {
        if (o instanceof ReducerError) {
          if (this.onError === 'stop') {
            fail(o);
            return false;
          }
        } else {
          subscriber.next(o);
        }
        return !stopped;
      };
      /** Starts the tasks of one event and emits those that completed at once; false once the stream has stopped. */
      const startEvent = (event: LOEvent): boolean => {
        const tasks = this.start(event, onOutcome);
        if (tasks === undefined) return true;
        if (!Array.isArray(tasks)) {
          if (tasks === PENDING) {
            inFlight++; // its outcome goes to onOutcome
            return true;
          }
          return deliver(tasks as Outcome);
        }
        for (let i = 0; i < tasks.length; i++) {
          const t = tasks[i];
          if (t === PENDING) inFlight++;
          else if (!deliver(t as Outcome)) return false;
        }
        return true;
      };
      /** Reads events from an async iterable while fewer than `concurrency` tasks are in flight. */
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
            if (!startEvent(next.value)) break;
          }
        } catch (err) {
          fail(err);
        } finally {
          pulling = false;
        }
        finishIfDone();
      };
      /**
       * {@link pump} for a synchronous iterable, without a Promise per call (it runs again from
       * every outcome). After {@link YIELD_EVERY} events in a row it goes on from a macrotask, so
       * that I/O and timers run during a long synchronous stretch (still holding `pulling`).
       */
      const pumpSync = (): void => {
        if (pulling) return;
        pulling = true;
        let yielded = false;
        try {
          let sinceYield = 0;
          while (!stopped && !exhausted && inFlight < this.concurrency) {
            const next = (it as Iterator<LOEvent>).next();
            if (stopped) break;
            if (next.done) {
              exhausted = true;
              break;
            }
            if (!startEvent(next.value)) break;
            if (++sinceYield >= YIELD_EVERY) {
              yielded = true;
              setImmediate(resumeSync);
              return;
            }
          }
        } catch (err) {
          fail(err);
        } finally {
          if (!yielded) pulling = false;
        }
        finishIfDone();
      };
      const resumeSync = () => {
        pulling = false;
        pumpSync();
      };
      const pullMore = isAsync ? () => void pump() : pumpSync;
      /** Batched mode: reads a batch, applies it, emits its outcomes, and goes on. */
      const pumpBatches = async () => {
        const size = this.batchSize as number;
        try {
          while (!stopped && !exhausted) {
            const batch: LOEvent[] = [];
            while (batch.length < size) {
              const next = isAsync ? await it.next() : (it as Iterator<LOEvent>).next();
              if (stopped) return;
              if (next.done) {
                exhausted = true;
                break;
              }
              batch.push(next.value);
            }
            if (batch.length === 0) break;
            const outcomes = await this.runBatch(batch);
            for (const o of outcomes) {
              if (stopped || !deliver(o)) return;
            }
            if (!isAsync) await yieldToEventLoop();
          }
        } catch (err) {
          fail(err);
          return;
        }
        finishIfDone();
      };
      if (this.batchSize === undefined) pullMore();
      else void pumpBatches();
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
   * cannot be slowed down, so the buffer is bounded: when an event arrives while `maxBuffered`
   * events are already waiting, the output errors with a {@link BufferOverflowError} and the
   * source is unsubscribed (tasks already running finish). For files and other sources you can
   * pull from, use {@link ReducerPipeline.run}, which has real backpressure. With
   * `onError: 'stop'` the output also errors with the first `ReducerError`.
   *
   * In batched mode a batch starts as soon as `batchSize` events are buffered, or when fewer are
   * buffered and no more arrived within the same turn of the event loop (or the source completed);
   * one batch runs at a time, and events arriving meanwhile wait in the buffer.
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
        let draining = false;
        let batchRunning = false;
        let flushScheduled = false;
        const batchSize = this.batchSize;
        const maxBuffered = this.maxBuffered;

        /** Drops the events still waiting (after the stream stopped) and un-counts them. */
        const dropBuffer = () => {
          this.buffered -= buffer.length - head;
          buffer.length = 0;
          head = 0;
        };
        const finishIfDone = () => {
          if (!stopped && sourceDone && inFlight === 0 && !batchRunning && head === buffer.length) {
            stopped = true;
            subscriber.complete();
          }
        };
        const fail = (err: unknown) => {
          if (stopped) return;
          stopped = true;
          dropBuffer();
          subscriber.error(err);
          sub?.unsubscribe(); // undefined when the source failed us while subscribing
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
        const take = (): LOEvent => {
          const event = buffer[head];
          buffer[head++] = undefined as unknown as LOEvent;
          this.buffered--;
          if (head > 1024 && head * 2 > buffer.length) {
            buffer.splice(0, head);
            head = 0;
          }
          return event;
        };
        const drain = () => {
          if (draining) return; // a result handler pushed an event: the running loop picks it up
          draining = true;
          try {
            while (!stopped && inFlight < this.concurrency && head < buffer.length) {
              const tasks = this.start(take(), onOutcome);
              if (tasks === undefined) continue;
              const many = Array.isArray(tasks);
              const n = many ? tasks.length : 1;
              for (let i = 0; i < n; i++) {
                const t = many ? tasks[i] : tasks;
                if (t === PENDING) {
                  inFlight++; // its outcome goes to onOutcome
                } else if (t instanceof ReducerError) {
                  if (this.onError === 'stop') return fail(t);
                } else {
                  subscriber.next(t as ReducerResult); // (with a sink, never a Promise)
                }
              }
            }
          } finally {
            draining = false;
          }
        };
        /** Batched mode: starts a batch when one is due (see the method's doc). */
        const drainBatches = (force: boolean) => {
          if (stopped || batchRunning) return;
          const available = buffer.length - head;
          if (available === 0) return finishIfDone();
          if (available < (batchSize as number) && !sourceDone && !force) {
            if (!flushScheduled) {
              flushScheduled = true;
              setImmediate(() => {
                flushScheduled = false;
                drainBatches(true);
              });
            }
            return;
          }
          const batch: LOEvent[] = [];
          while (batch.length < (batchSize as number) && head < buffer.length) batch.push(take());
          batchRunning = true;
          this.runBatch(batch).then(
            (outcomes) => {
              batchRunning = false;
              for (const o of outcomes) {
                if (stopped) return;
                if (o instanceof ReducerError) {
                  if (this.onError === 'stop') return fail(o);
                } else {
                  subscriber.next(o);
                }
              }
              drainBatches(false);
              finishIfDone();
            },
            (err) => fail(err),
          );
        };
        let sub: Subscription | undefined;
        sub = source$.subscribe({
          next: (event) => {
            if (stopped) return;
            if (buffer.length - head >= maxBuffered) return fail(new BufferOverflowError(maxBuffered, this.concurrency));
            buffer.push(event);
            this.buffered++;
            if (batchSize === undefined) drain();
            else drainBatches(false);
          },
          error: (err) => fail(err),
          complete: () => {
            sourceDone = true;
            if (batchSize !== undefined) drainBatches(true);
            finishIfDone();
          },
        });
        if (stopped) sub.unsubscribe();
        return () => {
          stopped = true;
          dropBuffer();
          sub?.unsubscribe();
        };
      });
  }

  /**
   * The (reducer, key) tasks of one event, in reducer order; `undefined` when no reducer applies.
   * Reducers whose scope fields the event lacks are skipped. A module's migrator runs once per
   * event (its failures go to `failures`).
   */
  private tasksOf(event: LOEvent, failures: ReducerError[]): Task[] | undefined {
    const source = eventSourceOf(event);
    if (source === undefined) return undefined;
    const reducers = this.bySource.get(source);
    if (reducers === undefined) return undefined;
    let tasks: Task[] | undefined;
    let migrator: EventMigrator | undefined;
    let migrated: LOEvent | MigrationFailure = event;
    for (const r of reducers) {
      let input = event;
      if (r.migrate !== undefined) {
        if (r.migrate !== migrator) migrated = migrateEvent((migrator = r.migrate), event);
        if (migrated instanceof MigrationFailure) {
          failures.push(this.migrationFailure(r, event, migrated.cause));
          continue;
        }
        input = migrated;
      }
      const key = this.keyOf(r, input);
      if (key === undefined) continue;
      const task = newTask(r, event, input, key, undefined);
      if (tasks) tasks.push(task);
      else tasks = [task];
    }
    return tasks;
  }

  /** The key of reducer `r` for `event` (from the reducer's key cache when it is there); `undefined` when a field is missing. */
  private keyOf(r: Prepared, event: LOEvent): KeyInfo | undefined {
    const n = r.keyNames.length;
    const values = r.values;
    for (let i = 0; i < n; i++) {
      const clientField = r.clientFields[i];
      const value = clientField === null ? studentIdOf(event) : renderFieldValue(event.client?.[clientField]);
      if (value === undefined) return undefined;
      values[i] = value;
    }
    // Only now that every field is there (a skipped event must leave nothing in the cache).
    let level = r.keyCache;
    for (let i = 0; i < n - 1; i++) {
      let next = level.get(values[i]) as Map<string, unknown> | undefined;
      if (next === undefined) level.set(values[i], (next = new Map()));
      level = next;
    }
    const last = values[n - 1];
    const cached = level.get(last) as KeyInfo | undefined;
    if (cached !== undefined) return cached;
    const fields: Record<string, string> = {};
    let suffix = '';
    for (let i = 0; i < n; i++) {
      fields[r.keyNames[i]] = values[i];
      suffix += `,${r.keyNames[i]}:${escapeKeyValue(values[i])}`;
    }
    const info: KeyInfo = { fields: Object.freeze(fields), internalKey: r.internalPrefix + suffix, externalKey: r.externalPrefix + suffix, alsoSet: undefined };
    if (++r.keyCacheSize > KEY_CACHE_LIMIT) {
      r.keyCache = new Map();
      r.keyCacheSize = 0;
    } else {
      level.set(last, info);
    }
    return info;
  }

  /**
   * Starts the tasks of one event; `undefined` when no reducer applies. Each entry is the outcome
   * itself when the task completed synchronously (in-memory store, synchronous reducer, key idle);
   * else, with a `sink`, {@link PENDING}, and the outcome goes to `sink` later (never before
   * `start` returns); without one, a Promise of it. Tasks never reject. One task is returned as it
   * is, several as an array (most events match one reducer: no array per event).
   */
  private start(event: LOEvent, sink?: Sink): Started | undefined {
    const source = eventSourceOf(event);
    if (source === undefined) return undefined;
    const reducers = this.bySource.get(source);
    if (reducers === undefined) return undefined;
    let first: TaskOutcome | undefined;
    let out: TaskOutcome[] | undefined;
    let migrator: EventMigrator | undefined;
    let migrated: LOEvent | MigrationFailure = event;
    for (let i = 0; i < reducers.length; i++) {
      const r = reducers[i];
      let input = event;
      if (r.migrate !== undefined) {
        // Only modules with a migrator pay for it: once per event, not per reducer.
        if (r.migrate !== migrator) migrated = migrateEvent((migrator = r.migrate), event);
        if (migrated instanceof MigrationFailure) {
          const failure = this.migrationFailure(r, event, migrated.cause);
          if (first === undefined) first = failure;
          else if (out === undefined) out = [first, failure];
          else out.push(failure);
          continue;
        }
        input = migrated;
      }
      const key = this.keyOf(r, input);
      if (key === undefined) continue;
      const outcome = this.enqueue(newTask(r, event, input, key, sink));
      if (first === undefined) first = outcome;
      else if (out === undefined) out = [first, outcome];
      else out.push(outcome);
    }
    return out ?? first;
  }

  /**
   * Starts `t` when its key is idle, else queues it behind the key's tasks (see {@link finish}).
   * A task with a sink (`t.resolve`) gets no Promise: {@link PENDING} stands for its outcome. Else
   * no Promise per task but the one returned, and none at all on the eager path.
   */
  private enqueue(t: Task): TaskOutcome {
    const chainKey = t.internalKey;
    const sink = t.resolve;
    const waiting = this.chains.get(chainKey);
    if (waiting !== undefined) {
      const task = sink === undefined ? outcomePromise(t) : PENDING;
      if (waiting === null) this.chains.set(chainKey, [t]);
      else waiting.push(t);
      return task;
    }
    if (t.r.eager && this.running < this.concurrency) {
      const now = this.executeEager(t);
      if (!(now instanceof Promise)) return now;
      // (it settles in a later microtask, so `finish` finds the key registered)
      this.chains.set(chainKey, null);
      return sink === undefined ? now : PENDING;
    }
    // Registered before `execute`, in case the task is finished before `execute` returns.
    this.chains.set(chainKey, null);
    const task = this.execute(t);
    // (without a sink, execute returns the task's outcome)
    return sink === undefined ? (task as Promise<Outcome>) : PENDING;
  }

  /**
   * A task's outcome is known: hands it to the task's sink or waiting Promise, then starts the
   * next task waiting for the same key, or frees the key.
   */
  private finish(t: Task, outcome: Outcome): Outcome {
    if (t.resolve !== undefined) t.resolve(outcome);
    const chainKey = t.internalKey;
    const waiting = this.chains.get(chainKey);
    if (waiting !== undefined) {
      const next = waiting === null ? undefined : waiting.shift();
      if (next !== undefined) {
        void this.execute(next);
      } else {
        this.chains.delete(chainKey);
        if (this.chains.size === 0 && this.idleWaiters.length > 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
      }
    }
    return outcome;
  }

  /** The transaction callback of one task; records the states written in the task. */
  private transactionFn(t: Task, validate: boolean) {
    if (this.sequence !== undefined) {
      const seq = sequenceOf(this.sequence, t.event);
      return (current: JsonValue | undefined): TransactionResult | Promise<TransactionResult> => {
        const stored = unwrapSequenced(t.internalKey, current);
        t.seq = seq;
        t.skipped = seq <= stored.seq;
        if (t.skipped) {
          // (a retried transaction may have run the reducer on an earlier attempt)
          t.internal = false;
          t.external = false;
          return { value: undefined };
        }
        const state = stored.state === undefined ? cloneJson(t.r.nullState) : stored.state;
        const output = t.r.def.invoke(t.input, state);
        return isThenable(output) ? Promise.resolve(output).then((o) => finishTask(t, o, validate)) : finishTask(t, output, validate);
      };
    }
    return (current: JsonValue | undefined): TransactionResult | Promise<TransactionResult> => {
      const state = current === undefined ? cloneJson(t.r.nullState) : current;
      const output = t.r.def.invoke(t.input, state);
      return isThenable(output) ? Promise.resolve(output).then((o) => finishTask(t, o, validate)) : finishTask(t, output, validate);
    };
  }

  private result(t: Task): ReducerResult {
    const r: ReducerResult = { reducerId: t.r.id, fields: t.fields, internalKey: t.internalKey, externalKey: t.externalKey, internal: t.internal, external: t.external };
    if (t.skipped) r.skipped = true;
    return r;
  }

  private failure(t: Task, cause: unknown): ReducerError {
    const error = new ReducerError(t.r.id, t.internalKey, t.event, cause);
    this.report(error);
    return error;
  }

  private migrationFailure(r: Prepared, event: LOEvent, cause: unknown): ReducerError {
    const error = new EventMigrationError(r.id, r.def.module, event, cause);
    this.report(error);
    return error;
  }

  /**
   * The fast path for stores with `eagerTransaction` (in memory): no Promise at all when the
   * reducer is synchronous. Called only when the key has no queued work and a slot is free.
   */
  private executeEager(t: Task): Outcome | Promise<Outcome> {
    this.running++;
    let pending: TransactionResult | Promise<TransactionResult>;
    try {
      // The store validates what it writes (before writing anything); its InvalidValueError is
      // turned into the same InvalidReducerResultError the other paths throw.
      if (this.sequence === undefined) {
        // One shared function and the task as its argument: no closure per event.
        pending = (t.r.store.eagerTransaction as NonNullable<KVStore['eagerTransaction']>)(t.internalKey, applyTask, t);
      } else {
        pending = (t.r.store.eagerTransaction as NonNullable<KVStore['eagerTransaction']>)(t.internalKey, this.transactionFn(t, false));
      }
    } catch (cause) {
      this.running--;
      return this.failure(t, asReducerResultError(t, cause));
    }
    if (!(pending instanceof Promise)) {
      this.running--;
      return this.result(t);
    }
    return this.settle(t, pending, true);
  }

  /**
   * Runs one task through the store's `transaction`. With a free slot and no `retry`, no async
   * function: one `then` on the store's Promise (on Redis, a Promise and its microtask turns fewer
   * per event); on a store with `transactionWithCallbacks` (Redis), not even that (see
   * {@link executeWithCallbacks}). Returns a Promise of the task's outcome; when `t.resolve` is set
   * (a sink, or the Promise `enqueue` gave out for a task that waited), `finish` hands the outcome
   * to it and the return value may be `undefined`.
   */
  private execute(t: Task): Promise<Outcome> | undefined {
    if (this.running >= this.concurrency || this.retrier !== undefined) return this.executeQueued(t);
    if (t.r.callbacks && this.sequence === undefined) return this.executeWithCallbacks(t);
    this.running++;
    let run: Promise<TransactionResult>;
    try {
      run = Promise.resolve(t.r.store.transaction(t.internalKey, this.transactionFn(t, true)));
    } catch (cause) {
      // (a store whose transaction throws instead of rejecting; settled as a rejection would be,
      // not before `start` returns)
      run = Promise.reject(cause);
    }
    return this.settle(t, run, false);
  }

  /**
   * {@link execute} on a store with `transactionWithCallbacks`: one shared transaction callback
   * with the task as its argument, and two shared outcome callbacks, so no closure per task and no
   * Promise but the one for a task that did not wait for its key (which `run` and `operator` wait
   * on). The store checks what it writes (as on the eager path); its `InvalidValueError` becomes
   * the reducer's `InvalidReducerResultError`.
   */
  private executeWithCallbacks(t: Task): Promise<Outcome> | undefined {
    this.running++;
    const outcome = t.resolve === undefined ? outcomePromise(t) : undefined;
    try {
      (t.r.store.transactionWithCallbacks as NonNullable<KVStore['transactionWithCallbacks']>)(t.internalKey, applyTask, t, this.committed, this.failed);
    } catch (cause) {
      // (a store that throws instead of calling back; reported as a callback would be, not
      // before `start` returns)
      queueMicrotask(() => this.failed(cause, t));
    }
    return outcome;
  }

  /** `transactionWithCallbacks`' outcome callbacks (one pair per pipeline, see {@link executeWithCallbacks}). */
  private readonly committed = (_result: TransactionResult, t: Task): void => {
    this.release();
    this.finish(t, this.result(t));
  };

  private readonly failed = (cause: unknown, t: Task): void => {
    this.release();
    this.finish(t, this.failure(t, asReducerResultError(t, cause)));
  };

  /**
   * The outcome of a task whose transaction is `pending`: frees its slot once it settles. On the
   * eager path a rejection is passed through `asReducerResultError` (the in-memory store is what
   * validates the reducer's output there).
   */
  private settle(t: Task, pending: Promise<unknown>, eager: boolean): Promise<Outcome> {
    return pending.then(
      () => {
        this.release();
        return this.finish(t, this.result(t));
      },
      (cause) => {
        this.release();
        return this.finish(t, this.failure(t, eager ? asReducerResultError(t, cause) : cause));
      },
    );
  }

  /** {@link execute} when it must wait for a slot, or go through the retrier. */
  private async executeQueued(t: Task): Promise<Outcome> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.running++;
    let outcome: Outcome;
    try {
      const fn = this.transactionFn(t, true);
      if (this.retrier !== undefined) await this.retrier.run(() => t.r.store.transaction(t.internalKey, fn));
      else await t.r.store.transaction(t.internalKey, fn);
      outcome = this.result(t);
    } catch (cause) {
      outcome = this.failure(t, cause);
    }
    this.release();
    return this.finish(t, outcome);
  }

  /**
   * Batched mode: applies `events` as one batch after the batches before it. Never rejects; a
   * failed store read or write becomes a `ReducerError` for every task of that store.
   */
  private runBatch(events: readonly LOEvent[]): Promise<Outcome[]> {
    this.batchesPending++;
    const run = this.batchTail.then(() => this.applyBatch(events));
    this.batchTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.batchesPending--;
    });
  }

  private async applyBatch(events: readonly LOEvent[]): Promise<Outcome[]> {
    const tasks: Task[] = [];
    const failures: ReducerError[] = [];
    for (const event of events) {
      const own = this.tasksOf(event, failures);
      if (own) for (const t of own) tasks.push(t);
    }
    if (tasks.length === 0) return failures;

    // Group the keys by store.
    const batches = new Map<KVStore, StoreBatch>();
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i];
      let b = batches.get(t.r.store);
      if (!b) batches.set(t.r.store, (b = { slots: new Map(), externals: new Map(), tasks: [] }));
      b.tasks.push(i);
      if (!b.slots.has(t.internalKey)) b.slots.set(t.internalKey, { state: undefined, shared: false, dirty: false, stale: false, seq: -1 });
    }
    const outcomes: Outcome[] = new Array(tasks.length);
    const failStore = (b: StoreBatch, cause: unknown) => {
      for (const i of b.tasks) outcomes[i] = this.failure(tasks[i], cause);
    };

    // Read every key of the batch, one multiget per store.
    const readFailed = new Set<StoreBatch>();
    await Promise.all(
      [...batches].map(async ([store, b]) => {
        try {
          const keys = [...b.slots.keys()];
          const values = await this.storeOp(() => store.multiget(keys));
          for (let i = 0; i < keys.length; i++) this.loadSlot(b.slots.get(keys[i]) as Slot, keys[i], values[i]);
        } catch (cause) {
          readFailed.add(b);
          failStore(b, cause);
        }
      }),
    );

    // Apply the events in order, in memory.
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i];
      const b = batches.get(t.r.store) as StoreBatch;
      if (readFailed.has(b)) continue;
      const slot = b.slots.get(t.internalKey) as Slot;
      // The first call on a state read from the store gets that object itself (no copy); if the
      // call then fails or does not write it, the state is re-read (see Slot.stale), so a failed
      // or unwritten call leaves no trace, as in per-event mode.
      let handedOver = false;
      try {
        const seq = this.sequence !== undefined ? sequenceOf(this.sequence, t.event) : -1;
        if (seq >= 0 && seq <= slot.seq) {
          outcomes[i] = { reducerId: t.r.id, fields: t.fields, internalKey: t.internalKey, externalKey: t.externalKey, internal: false, external: false, skipped: true };
          continue;
        }
        if (slot.stale) {
          this.loadSlot(slot, t.internalKey, await this.storeOp(() => t.r.store.get(t.internalKey)));
          slot.stale = false;
        }
        let state: JsonValue;
        if (slot.state === undefined) state = cloneJson(t.r.nullState);
        else if (slot.shared) state = cloneJson(slot.state);
        else {
          state = slot.state;
          handedOver = true;
        }
        slot.shared = true; // the reducer may keep or return the object it was given
        let output = t.r.def.invoke(t.input, state);
        if (isThenable(output)) output = await output;
        checkOutput(t.r.id, t.internalKey, t.externalKey, output);
        const internal = (output as [JsonValue | false, JsonValue | false])[0];
        const external = (output as [JsonValue | false, JsonValue | false])[1];
        if (internal !== false) {
          slot.state = internal;
          slot.dirty = true;
          if (seq >= 0) slot.seq = seq;
        } else if (handedOver) {
          slot.stale = true;
        }
        if (external !== false) b.externals.set(t.externalKey, external);
        outcomes[i] = { reducerId: t.r.id, fields: t.fields, internalKey: t.internalKey, externalKey: t.externalKey, internal, external };
      } catch (cause) {
        if (handedOver) slot.stale = true;
        outcomes[i] = this.failure(t, cause);
      }
    }

    // Write each changed key once, one setMany per store.
    await Promise.all(
      [...batches].map(async ([store, b]) => {
        if (readFailed.has(b)) return;
        const internals: [string, JsonValue][] = [];
        for (const [key, slot] of b.slots) {
          if (slot.dirty) internals.push([key, this.sequence !== undefined ? wrapSequenced(slot.seq, slot.state as JsonValue) : (slot.state as JsonValue)]);
        }
        const externals = [...b.externals];
        const write = (entries: [string, JsonValue][]) =>
          entries.length === 0
            ? Promise.resolve()
            : this.storeOp(async () => {
                if ('setMany' in store && typeof store.setMany === 'function') await store.setMany(entries);
                else await Promise.all(entries.map(([k, v]) => store.set(k, v)));
              });
        try {
          // Resume mode: external states first, so that a crash in between leaves internal
          // positions behind, and the resumed replay recomputes the same external states.
          if (this.sequence !== undefined) {
            await write(externals);
            await write(internals);
          } else {
            await write([...internals, ...externals]);
          }
        } catch (cause) {
          for (const i of b.tasks) if (!(outcomes[i] instanceof ReducerError)) outcomes[i] = this.failure(tasks[i], cause);
        }
      }),
    );
    return failures.length === 0 ? outcomes : [...failures, ...outcomes];
  }

  /** Runs a store operation, through the retrier when `retry` is set. */
  private storeOp<T>(op: () => Promise<T>): Promise<T> {
    return this.retrier !== undefined ? this.retrier.run(op) : op();
  }

  /** Batched mode: sets a slot from a stored internal state (unwrapping it in resume mode). */
  private loadSlot(slot: Slot, key: string, stored: JsonValue | undefined): void {
    if (this.sequence === undefined) {
      slot.state = stored;
      return;
    }
    const { seq, state } = unwrapSequenced(key, stored);
    slot.state = state;
    slot.seq = seq;
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

/** A migrator's failure (what it threw, or why its result is not an event). */
class MigrationFailure {
  constructor(readonly cause: unknown) {}
}

/** Runs a module's migrator: the event its reducers see, or a {@link MigrationFailure}. */
function migrateEvent(migrate: EventMigrator, event: LOEvent): LOEvent | MigrationFailure {
  let out: unknown;
  try {
    out = migrate(event);
  } catch (cause) {
    return new MigrationFailure(cause);
  }
  const client = (out as { client?: unknown } | null | undefined)?.client;
  if (typeof out !== 'object' || out === null || typeof client !== 'object' || client === null) {
    return new MigrationFailure(
      new ReducerFrameworkError(`the migrator returned ${describeValue(out)}, not an event; return the event itself or a changed copy (withClientFields(event, { ... })).`),
    );
  }
  return out as LOEvent;
}

/** Tasks in flight when neither the options nor the stores say otherwise. */
const DEFAULT_CONCURRENCY = 32;

/**
 * The pipeline's default concurrency: the least `preferredConcurrency` of its stores (a store
 * without one counts as {@link DEFAULT_CONCURRENCY}); {@link DEFAULT_CONCURRENCY} when none
 * sets a finite limit (in-memory stores only).
 */
function defaultConcurrency(stores: Iterable<KVStore>): number {
  let least = Infinity;
  for (const store of stores) {
    const preferred = store.preferredConcurrency;
    least = Math.min(least, typeof preferred === 'number' && preferred >= 1 ? Math.floor(preferred) : DEFAULT_CONCURRENCY);
  }
  return Number.isFinite(least) ? least : DEFAULT_CONCURRENCY;
}

/**
 * The transaction callback of the eager and callback paths (no resume sequence, no JSON check of
 * its own: those stores validate before they write), shared by every task.
 */
function applyTask(current: JsonValue | undefined, t: Task): TransactionResult | Promise<TransactionResult> {
  const state = current === undefined ? cloneJson(t.r.nullState) : current;
  const output = t.r.def.invoke(t.input, state);
  if (isThenable(output)) {
    return Promise.resolve(output).then((o) => finishTask(t, o, false));
  }
  return finishTask(t, output, false);
}

/** Checks a reducer's output, records it in the task and turns it into the transaction's result. */
function finishTask(t: Task, output: unknown, validate: boolean): TransactionResult {
  checkOutput(t.r.id, t.internalKey, t.externalKey, output, validate);
  const internal = (output as [JsonValue | false, JsonValue | false])[0];
  const external = (output as [JsonValue | false, JsonValue | false])[1];
  t.internal = internal;
  t.external = external;
  const value = internal === false ? undefined : t.seq >= 0 ? wrapSequenced(t.seq, internal) : internal;
  if (external === false) return { value };
  // One alsoSet object per key, kept with the key and refilled: a key's tasks run one at a time
  // and a store reads alsoSet only during the transaction, so no two uses overlap. (A fresh one
  // per event was the largest allocation.) It is an ordinary object, so V8 gives it a hidden
  // class of its own key name, made once per key: a store's for-in over it then takes about
  // 30 ns, against 170-210 ns over a prototype-less object, which V8 keeps in dictionary mode.
  const key = t.key;
  let alsoSet = key.alsoSet;
  if (alsoSet === undefined) key.alsoSet = alsoSet = {};
  alsoSet[t.externalKey] = external;
  return { value, alsoSet };
}

/**
 * Checks the shape of what a reducer returned (`[internal, external]`); with `validate`, also that
 * each state to write is JSON (without it the store's own check, before writing, does that).
 */
function checkOutput(id: string, internalKey: string, externalKey: string, output: unknown, validate = true): asserts output is [JsonValue | false, JsonValue | false] {
  if (!Array.isArray(output) || output.length !== 2) {
    throw new InvalidReducerResultError(
      `Reducer ${id} must return [internalState, externalState] (use false for a state not to write); it returned ${describeValue(output)}.`,
    );
  }
  const internal = output[0] as unknown;
  const external = output[1] as unknown;
  // `undefined` would read as "leave the key alone" to a store: always rejected here.
  if (validate || internal === undefined) checkState(id, 'internal', internalKey, internal);
  if (validate || external === undefined) checkState(id, 'external', externalKey, external);
}

function notJson(id: string, which: string, err: InvalidValueError): InvalidReducerResultError {
  return new InvalidReducerResultError(
    `Reducer ${id} returned an ${which} state that is not JSON: the value at ${err.path} ${err.reason}. ` +
      'Return only null, booleans, finite numbers, strings, arrays and plain objects (or false to skip the write).',
  );
}

function checkState(id: string, which: string, key: string, value: unknown): void {
  if (value === false) return;
  try {
    assertJsonValue(key, value);
  } catch (err) {
    if (err instanceof InvalidValueError) throw notJson(id, which, err);
    throw err;
  }
}

/** A store's `InvalidValueError` for one of the task's keys, as the reducer's error. */
function asReducerResultError(t: Task, cause: unknown): unknown {
  if (!(cause instanceof InvalidValueError)) return cause;
  if (cause.key === t.internalKey) return notJson(t.r.id, 'internal', cause);
  if (cause.key === t.externalKey) return notJson(t.r.id, 'external', cause);
  return cause;
}

function selectReducers(defs: ReducerDefinition[], filters: ReducerFilter[]): ReducerDefinition[] {
  const unmatched = filters.filter((f) => typeof f === 'string' && !defs.some((d) => d.id === f || d.module === f));
  if (unmatched.length > 0) {
    throw new UnknownReducerError(
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
