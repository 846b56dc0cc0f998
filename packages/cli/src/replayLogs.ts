import { StoreUnavailableError, type KVSRouter } from '@learning-observer/kvs';
import {
  readLogEvents,
  ReducerPipeline,
  StoreRetrier,
  type BadLine,
  type BadLineReason,
  type LOEvent,
  type ReducerError,
  type RetryOptions,
} from '@learning-observer/reducers';
import { startProgress, type ProgressOptions } from './progress';
import type { CliIO } from './io';

/** One skipped log line, as the summary lists it. */
export interface SkippedLineSample {
  file: string;
  line: number;
  reason: BadLineReason;
  message: string;
}

/** One reducer failure, as the summary lists it. */
export interface ReducerErrorSample {
  reducer: string;
  key: string;
  /** Where the event came from (undefined if it cannot be traced). */
  file?: string;
  line?: number;
  message: string;
}

/** What a replay did (the `--json` output of `lo replay`). */
export interface ReplaySummary {
  files: string[];
  modules: string[];
  store: { name: string; type: string };
  /** Events read from the logs (whether or not a reducer matched them). */
  events: number;
  lines: number;
  skipped: { total: number; byReason: Partial<Record<BadLineReason, number>>; first: SkippedLineSample[] };
  reducerErrors: { total: number; byReducer: Record<string, number>; first: ReducerErrorSample[] };
  /** Reducer runs that completed (one per reducer, key and event). */
  reducerRuns: number;
  /** Events per batch (batched mode), or null for one transaction per event. */
  batchSize: number | null;
  /** Distinct state keys written (internal and external). */
  keysWritten: number;
  /** Resume mode: whether it was on, and the reducer runs skipped because the store already had them. */
  resume: boolean;
  alreadyApplied: number;
  /**
   * `--sequence-path`: the dotted path the replay position was read from (null: the event's ordinal
   * in the input files), and the events not applied because that field was not a valid position.
   */
  sequencePath: string | null;
  badSequence: { total: number; first: SkippedLineSample[] };
  elapsedSeconds: number;
  eventsPerSecond: number;
}

/** Options of {@link replayLogs}. */
export interface ReplayOptions {
  files: string[];
  router: KVSRouter;
  /** Reducer module instances to run. */
  modules: object[];
  /** Names shown in the summary. */
  moduleNames: string[];
  /**
   * Run only these reducers of `modules`: reducer ids (`module.qualname`) or module names
   * (default: all). An unknown name fails before anything is read, listing the known ids.
   */
  reducers?: string[];
  /** Reducer tasks in flight at most (default: the pipeline's: 256 on Redis, else 32); bounds memory whatever the log size. */
  concurrency?: number;
  /**
   * Events per batch in the pipeline's batched mode (each key read once and written once per
   * batch: far fewer file locks and fsyncs on the filesystem store). Undefined: one transaction
   * per event. Same final states either way; see the reducers README for the trade-off (one
   * writer per key, the batch is the unit of durability).
   */
  batchSize?: number;
  /** How many skipped lines and reducer errors the summary lists in full (default 5 each). */
  samples?: number;
  /**
   * Resume mode: each event's position (its ordinal in the input files) is stored with every
   * internal state it changes, and events a key already has are skipped, so an interrupted replay
   * restarted with the same files finishes without counting anything twice. Internal states are
   * stored as `{ "__lo_seq": n, "state": ... }` (see the reducers README, "Crash and resume").
   */
  resume?: boolean;
  /**
   * Resume mode with each event's position taken from a numeric field of the event (a dotted
   * path such as `server.seq`) instead of its ordinal in the input files: for events that carry
   * their own global position, and for sharded replays where several processes replay
   * overlapping parts of one log into the same store. Implies `resume`. An event whose field is
   * not a safe whole number >= 0 is not applied, and is counted in `badSequence`.
   */
  sequencePath?: string;
  /** Wait out an unavailable store: retries per operation and the delay between them (default: no retry). */
  retry?: { attempts: number; delayMs: number };
  progress?: ProgressOptions['mode'];
  progressIntervalSeconds?: number;
}

const PROBE_KEY = 'lo-cli:probe';

/**
 * Streams log files through reducer modules into the router's stores: reads one line at a time and
 * keeps at most `concurrency` reducer tasks in flight, so memory stays flat for any log size. Bad
 * lines and reducer errors are counted and sampled, never fatal. Throws `StoreUnavailableError`
 * when a store cannot be reached (before the first event, or as soon as it goes away).
 *
 * @example
 * const summary = await replayLogs(io, { files: ['day1.jsonl.gz'], router, modules: exampleModules(), moduleNames: ['all'] });
 */
export async function replayLogs(io: CliIO, options: ReplayOptions): Promise<ReplaySummary> {
  const sampleCount = options.samples ?? 5;
  const positions = new WeakMap<object, number>();
  const retry = options.retry;
  const sequencePath = options.sequencePath === undefined ? undefined : parseSequencePath(options.sequencePath);
  const resume = options.resume === true || sequencePath !== undefined;
  const retryOptions: RetryOptions | undefined =
    retry && retry.attempts > 0
      ? {
          ...retry,
          onUnavailable: (e) =>
            io.stderr.write(
              `lo: ${storeUnavailableLine(options.router, e)}; waiting for it (retrying every ${retry.delayMs} ms, up to ${retry.attempts} times)...\n`,
            ),
          onAvailable: () => io.stderr.write('lo: the store is reachable again; replay continues.\n'),
        }
      : undefined;
  const pipeline = new ReducerPipeline({
    modules: options.modules,
    reducers: options.reducers,
    router: options.router,
    concurrency: options.concurrency,
    batchSize: options.batchSize,
    onError: 'continue',
    sequence: resume ? (event) => positions.get(event) ?? -1 : undefined,
    retry: retryOptions,
  });
  // Before reading anything, check that every store the reducers use answers: without --retry an
  // unreachable store fails here, at once; with it, the replay waits for the store the same way
  // it waits for one that goes away mid-replay.
  const probe = retryOptions ? new StoreRetrier(retryOptions) : undefined;
  const storeNames = [...new Set(pipeline.definitions.map((d) => d.backend ?? 'default'))];
  for (const name of storeNames) {
    const store = options.router.get(name);
    await (probe ? probe.run(() => store.get(PROBE_KEY)) : store.get(PROBE_KEY));
  }

  const skipped: ReplaySummary['skipped'] = { total: 0, byReason: {}, first: [] };
  const errors: ReplaySummary['reducerErrors'] = { total: 0, byReducer: {}, first: [] };
  const origins = new WeakMap<object, { file: string; line: number }>();
  const keys = new Set<string>();
  let runs = 0;
  let alreadyApplied = 0;
  let ordinal = 0;
  const badSequence: ReplaySummary['badSequence'] = { total: 0, first: [] };

  const reader = readLogEvents(options.files, {
    onBadLine: (bad: BadLine) => {
      if (skipped.first.length < sampleCount) skipped.first.push({ file: bad.file, line: bad.line, reason: bad.reason, message: bad.message });
    },
  });
  async function* events(): AsyncGenerator<LOEvent> {
    for await (const record of reader) {
      origins.set(record.event, { file: record.file, line: record.line });
      if (sequencePath === undefined) {
        positions.set(record.event, ordinal++);
      } else {
        const seq = readPath(record.event, sequencePath);
        if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
          badSequence.total += 1;
          if (badSequence.first.length < sampleCount) {
            badSequence.first.push({
              file: record.file,
              line: record.line,
              reason: 'wrong-type',
              message: `${options.sequencePath} is ${describeSequence(seq)}, not a whole number >= 0: event not applied`,
            });
          }
          continue;
        }
        positions.set(record.event, seq);
      }
      yield record.event;
    }
  }

  const started = Date.now();
  const stopProgress = startProgress(io, () => reader.stats, {
    label: 'replay',
    mode: options.progress,
    intervalSeconds: options.progressIntervalSeconds,
  });
  let storeDown: StoreUnavailableError | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let runSub: { unsubscribe(): void } | undefined;
      const errorSub = pipeline.errors$.subscribe((e: ReducerError) => {
        if (e.cause instanceof StoreUnavailableError) {
          if (storeDown === undefined) {
            storeDown = e.cause;
            runSub?.unsubscribe();
            // errorSub stays subscribed: the tasks still under way fail too, and an unobserved
            // reducer error would print a ReducerWarning after the one "unavailable" line.
            reject(e.cause);
          }
          return;
        }
        errors.total += 1;
        errors.byReducer[e.reducerId] = (errors.byReducer[e.reducerId] ?? 0) + 1;
        if (errors.first.length < sampleCount) {
          const origin = typeof e.event === 'object' && e.event !== null ? origins.get(e.event) : undefined;
          errors.first.push({
            reducer: e.reducerId,
            key: e.internalKey,
            ...(origin ?? {}),
            message: e.cause instanceof Error ? e.cause.message : String(e.cause),
          });
        }
      });
      runSub = pipeline.run(events()).subscribe({
        next: (r) => {
          if (r.skipped) {
            alreadyApplied += 1;
            return;
          }
          runs += 1;
          if (r.internal !== false) keys.add(r.internalKey);
          if (r.external !== false) keys.add(r.externalKey);
        },
        error: (err: unknown) => {
          errorSub.unsubscribe();
          reject(err);
        },
        complete: () => {
          errorSub.unsubscribe();
          resolve();
        },
      });
    });
  } finally {
    stopProgress();
  }
  const stats = reader.stats;
  skipped.total = stats.badLines;
  skipped.byReason = { ...stats.badByReason };
  const elapsedSeconds = (Date.now() - started) / 1000;
  return {
    files: options.files,
    modules: options.moduleNames,
    store: { name: 'default', type: options.router.typeOf('default') },
    events: stats.events,
    lines: stats.lines,
    skipped,
    reducerErrors: errors,
    reducerRuns: runs,
    batchSize: options.batchSize ?? null,
    keysWritten: keys.size,
    resume,
    alreadyApplied,
    sequencePath: options.sequencePath ?? null,
    badSequence,
    elapsedSeconds: Math.round(elapsedSeconds * 1000) / 1000,
    eventsPerSecond: elapsedSeconds > 0 ? Math.round(stats.events / elapsedSeconds) : stats.events,
  };
}

/** `Redis at host:port/db is unavailable (...)`, or the error's own message for other stores. */
function storeUnavailableLine(router: KVSRouter, error: StoreUnavailableError): string {
  let target: unknown;
  try {
    target = (router.get('default') as { target?: unknown }).target;
  } catch {
    target = undefined;
  }
  return typeof target === 'string' ? `Redis at ${target} is unavailable (${error.message})` : `the store is unavailable (${error.message})`;
}

/**
 * Splits a `--sequence-path` such as `server.seq` into its field names; throws `RangeError` for an
 * empty path or an empty segment.
 *
 * @example
 * parseSequencePath('server.seq'); // ['server', 'seq']
 */
export function parseSequencePath(path: string): string[] {
  const parts = path.split('.');
  if (parts.some((p) => p === '')) throw new RangeError(`The sequence path ${JSON.stringify(path)} is not a dotted field path such as "server.seq".`);
  return parts;
}

/** The value at a dotted path of an event, or undefined when a step is missing. */
function readPath(event: unknown, parts: string[]): unknown {
  let v: unknown = event;
  for (const p of parts) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function describeSequence(v: unknown): string {
  if (v === undefined) return 'missing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
