'use strict';
/**
 * Runs ONE measurement and prints its figures as a `BENCH_RESULT {json}` line. bench/run.js starts a
 * fresh process per measurement, so that `process.resourceUsage().maxRSS` is the peak of that
 * measurement alone. Usage: node --expose-gc bench/worker.js '<task json>'
 */
const { createHash } = require('node:crypto');
const w = require('./lib/workload');
const reducers = require('@learning-observer/reducers');
const examples = require('@learning-observer/examples');
const kvs = require('@learning-observer/kvs');

const task = JSON.parse(process.argv[2]);
const now = () => process.hrtime.bigint();
const seconds = (from) => Number(now() - from) / 1e9;
const MB = 1024 * 1024;

/**
 * A freshly generated chunk of events sits in V8's young generation, where every scavenge would
 * copy it again: a cost of the benchmark, not of the code measured (a log replay parses events one
 * at a time and drops them). Two minor GCs before the clock starts move the chunk to the old
 * generation. Needs --expose-gc (bench/run.js passes it); without it this does nothing.
 */
function settle() {
  if (global.gc) {
    global.gc({ type: 'minor' });
    global.gc({ type: 'minor' });
  }
}

function memory() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
  const m = process.memoryUsage();
  return {
    heapUsedMB: m.heapUsed / MB,
    rssMB: m.rss / MB,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
}

/** Runs `events` through the pipeline and resolves with the number of results. */
function drain(pipeline, events) {
  return new Promise((resolve, reject) => {
    let results = 0;
    pipeline.run(events).subscribe({ next: () => results++, error: reject, complete: () => resolve(results) });
  });
}

function makePipeline(task, store) {
  const set = w.reducerSet(task.set);
  const options = { modules: set.modules, reducers: set.reducers, store };
  if (task.mode === 'batched') options.batchSize = task.batchSize;
  if (task.concurrency) options.concurrency = task.concurrency;
  const pipeline = new reducers.ReducerPipeline(options);
  if (task.mode === 'batched' && pipeline.batchSize === undefined) {
    throw new Error('this build of ReducerPipeline has no batchSize option (batched mode)');
  }
  let errors = 0;
  let firstError;
  pipeline.errors$.subscribe((e) => {
    errors++;
    firstError ??= e.message;
  });
  return { pipeline, errorCount: () => errors, firstError: () => firstError };
}

async function digestOf(store) {
  const dump = await store.dump();
  const keys = Object.keys(dump).sort();
  const hash = createHash('sha1');
  for (const k of keys) hash.update(k + '\u0000' + JSON.stringify(dump[k]) + '\n');
  return { keys: keys.length, digest: hash.digest('hex').slice(0, 16) };
}

/** A smaller log with another seed, run before the clock starts so the JIT has warmed up. */
function warmupLog(task) {
  return { ...task, events: task.warmup || 0, students: Math.min(task.students, 1000), seed: (task.seed ?? 1) + 1000 };
}

/** The counter's work by hand: one Map, the same keys and states, no framework. */
async function plain(task) {
  if (task.warmup) plainLoop(warmupLog(task), false);
  return plainLoop(task, true);
}

/** The plain loop over one chunk; returns its seconds. */
function plainChunk(state, chunk) {
  const t = now();
  for (let i = 0; i < chunk.length; i++) {
    const auth = chunk[i].metadata && chunk[i].metadata.auth;
    const student = (auth && auth.safe_user_id) || '[guest]';
    const internalKey = 'Internal,lo_toy_sba.reducers.student_event_counter,STUDENT:' + student;
    const previous = state.get(internalKey);
    const next = { count: (previous === undefined ? 0 : previous.count) + 1 };
    state.set(internalKey, next);
    state.set('External,lo_toy_sba.reducers.student_event_counter,STUDENT:' + student, next);
  }
  return seconds(t);
}

/**
 * Binned time on task's work by hand, over one chunk: no framework, but the same reducer function
 * (`applyBinnedTimeOnTask`, updating its own copy in place), the doc id taken from the document
 * link as the module's migrator does, and the two copies the in-memory store makes (the state
 * handed to the reducer, and the state kept, isolated from the caller: DESIGN's contract).
 * What is left between this loop and the pipeline is the framework; this loop over the counter's
 * plain loop is the ceiling this state shape sets with those copies. Returns its seconds.
 */
const BINNED = 'writing_observer.writing_analysis.binned_time_on_task,EventField.doc_id:';
function binnedByHandChunk(state, chunk) {
  const t = now();
  for (let i = 0; i < chunk.length; i++) {
    const event = chunk[i];
    const time = event.server && event.server.time;
    if (typeof time !== 'number') continue;
    const doc = examples.docIdOf(event);
    if (doc === undefined) continue;
    const auth = event.metadata && event.metadata.auth;
    const suffix = doc + ',STUDENT:' + ((auth && auth.safe_user_id) || '[guest]');
    const internalKey = 'Internal,' + BINNED + suffix;
    const stored = state.get(internalKey);
    const next = examples.applyBinnedTimeOnTask(stored === undefined ? null : kvs.cloneJson(stored), time, 60, 600, 'ignore', true);
    if (next === undefined) continue;
    const kept = kvs.cloneValidJson(internalKey, next);
    state.set(internalKey, kept);
    state.set('External,' + BINNED + suffix, kept);
  }
  return seconds(t);
}

function plainLoop(task, measured) {
  const state = new Map();
  let elapsed = 0;
  let events = 0;
  for (const chunk of w.chunks(task, task.chunk)) {
    settle();
    elapsed += plainChunk(state, chunk);
    events += chunk.length;
  }
  if (!measured) return undefined;
  return { events, seconds: elapsed, eventsPerSec: events / elapsed, keys: state.size, ...memory() };
}

/**
 * Runs the same reducers and mode over the warm-up log (untimed), on the same kind of store as
 * the measurement (its own Redis prefix or folder), so that the store's code is warm too, not only
 * the pipeline's. On the slower backends the warm-up log is at most a tenth of the measured one.
 */
async function warmUp(task) {
  if (!task.warmup) return;
  const memory = task.backend === 'memory';
  const log = warmupLog(task);
  if (!memory) log.events = Math.min(log.events, Math.ceil(task.events / 10));
  const store = w.openStore({ ...task, prefix: `${task.prefix ?? ''}warmup:`, dir: task.dir && `${task.dir}-warmup` });
  try {
    const { pipeline } = makePipeline(task, store);
    const plainState = new Map();
    const byHandState = new Map();
    for (const chunk of w.chunks(log, task.chunk)) {
      await drain(pipeline, chunk);
      if (task.withPlain) plainChunk(plainState, chunk);
      if (task.withBinnedByHand) binnedByHandChunk(byHandState, chunk);
    }
  } finally {
    if (!memory) await store.clear().catch(() => undefined);
    await store.close();
    if (task.backend === 'filesystem') require('node:fs').rmSync(`${task.dir}-warmup`, { recursive: true, force: true });
  }
}

/**
 * Batched mode on the filesystem: counts the files the batches write (setMany entries), the
 * batches, and the time spent writing them, so the report can show how much of the run waited for
 * the disk and at what rate it took the files. The returned object fills in as the run goes.
 */
function countWrites(task, store) {
  if (task.backend !== 'filesystem' || task.mode !== 'batched') return undefined;
  const written = { filesWritten: 0, batchesWritten: 0, writeSeconds: 0 };
  const setMany = store.setMany.bind(store);
  // Batches run one after another, so the time inside setMany adds up without overlaps.
  store.setMany = async (entries) => {
    const list = [...entries];
    written.filesWritten += list.length;
    written.batchesWritten++;
    const t = now();
    try {
      return await setMany(list);
    } finally {
      written.writeSeconds += seconds(t);
    }
  };
  return written;
}

async function pipelineRun(task) {
  if (task.mode === 'batched' && task.batchSize > task.chunk) {
    // Each chunk is its own run() call and a batch never spans two calls: batches would be cut at
    // chunk boundaries and the row would measure smaller batches than it says.
    throw new Error(`batchSize ${task.batchSize} is larger than the chunk of ${task.chunk} events: give this measurement chunk >= batchSize`);
  }
  await warmUp(task);
  const store = w.openStore(task);
  try {
    if (task.backend !== 'memory') await store.clear();
    const written = countWrites(task, store);
    const { pipeline, errorCount, firstError } = makePipeline(task, store);
    let elapsed = 0;
    let events = 0;
    let results = 0;
    // withPlain: the plain loop runs over the same chunks in the same process, interleaved, so
    // the ratio between the two holds even when the machine's load changes during the run.
    const plainState = new Map();
    let plainElapsed = 0;
    const byHandState = new Map();
    let byHandElapsed = 0;
    for (const chunk of w.chunks(task, task.chunk)) {
      settle();
      if (task.withPlain) plainElapsed += plainChunk(plainState, chunk);
      settle();
      if (task.withBinnedByHand) {
        byHandElapsed += binnedByHandChunk(byHandState, chunk);
        settle();
      }
      const t = now();
      results += await drain(pipeline, chunk);
      elapsed += seconds(t);
      events += chunk.length;
    }
    const out = { events, results, errors: errorCount(), firstError: firstError(), seconds: elapsed, eventsPerSec: events / elapsed };
    if (task.withPlain) out.plainEventsPerSec = events / plainElapsed;
    if (task.withBinnedByHand) out.byHandEventsPerSec = events / byHandElapsed;
    byHandState.clear();
    if (written) Object.assign(out, written);
    plainState.clear();
    Object.assign(out, memory());
    if (task.digest) Object.assign(out, await digestOf(store));
    else out.keys = (await store.keys()).length;
    return out;
  } finally {
    if (task.backend !== 'memory') await store.clear().catch(() => undefined);
    await store.close();
  }
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const total = samples.reduce((a, b) => a + b, 0);
  return { medianMs: at(0.5), p95Ms: at(0.95), perSec: samples.length / (total / 1000) };
}

/** Fills the store with the counter's state for every student, then times the 1,000-student reads. */
async function dashboard(task) {
  const query = require('@learning-observer/query');
  const store = w.openStore(task);
  try {
    if (task.backend !== 'memory') await store.clear();
    const { pipeline } = makePipeline({ ...task, set: 'counter' }, store);
    for (const chunk of w.chunks(task, task.chunk)) await drain(pipeline, chunk);
    const def = pipeline.definitions[0];
    const roster = Array.from({ length: task.students }, (_, i) => {
      const id = examples.sampleStudentId(i, task.students);
      return { user_id: id, profile: { name: { full_name: `Student ${i + 1}` } } };
    });
    const engine = new query.QueryEngine({ reducers: [def], store });
    engine.publishFunction('learning_observer.courseroster', async () => roster);
    engine.publishQuery('event_counts', query.studentReducerQuery(def));
    const fields = roster.map((r) => ({ STUDENT: r.user_id }));

    const timeIt = async (fn) => {
      for (let i = 0; i < task.warmup; i++) await fn();
      const samples = [];
      for (let i = 0; i < task.iterations; i++) {
        const t = now();
        await fn();
        samples.push(seconds(t) * 1000);
      }
      return stats(samples);
    };
    let checked;
    const rosterQuery = await timeIt(async () => {
      const out = await engine.execute('event_counts', {
        exports: ['student_event_counter_export'],
        parameters: { course_id: 'bench' },
      });
      checked = out.student_event_counter_export;
    });
    const total = checked.reduce((sum, row) => sum + row.count, 0);
    if (checked.length !== task.students || total !== task.events) {
      throw new Error(`roster query returned ${checked.length} rows counting ${total} events; expected ${task.students} rows and ${task.events}`);
    }
    const readStates = await timeIt(() => query.readStates(def, fields, { store }));
    return { students: task.students, rosterQuery, readStates, ...memory() };
  } finally {
    if (task.backend !== 'memory') await store.clear().catch(() => undefined);
    await store.close();
  }
}

async function writeLog(task) {
  const t = now();
  const written = await w.writeGzipLog(task.file, task);
  return { ...written, seconds: seconds(t) };
}

/** Replays a gzip log from disk (streamed by the reducers package's log reader) on the memory backend. */
async function replay(task) {
  const store = w.openStore({ backend: 'memory' });
  const { pipeline, errorCount } = makePipeline(task, store);
  async function* events() {
    for await (const record of reducers.readLogEvents(task.file)) yield record.event;
  }
  const t = now();
  const results = await drain(pipeline, events());
  const elapsed = seconds(t);
  const keys = (await store.keys()).length;
  return { events: task.events, students: task.students, results, errors: errorCount(), seconds: elapsed, eventsPerSec: task.events / elapsed, keys, ...memory() };
}

/**
 * The client's own ceiling: SETs of counter-sized JSON through ioredis, one command per event
 * with `inFlight` commands outstanding, the way per-event writes reach Redis (no framework).
 */
async function redisClient(task) {
  const Redis = require('ioredis');
  const client = new Redis({ host: task.redis.host, port: task.redis.port, lazyConnect: true });
  await client.connect();
  try {
    const n = task.commands;
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await client.set(`bench:client:${i % task.students}`, `{"count":${i}}`);
      }
    };
    const t = now();
    await Promise.all(Array.from({ length: task.inFlight }, worker));
    const elapsed = seconds(t);
    return { commands: n, inFlight: task.inFlight, seconds: elapsed, eventsPerSec: n / elapsed, ...memory() };
  } finally {
    client.disconnect();
  }
}

/**
 * The disk's own ceiling for crash-safe writes: `files` small files, each written to a temp file,
 * fsynced and renamed into place, 32 at a time (what a crash-safe file store must do per write).
 */
async function fsWrites(task) {
  const fsp = require('node:fs/promises');
  const path = require('node:path');
  await fsp.mkdir(task.dir, { recursive: true });
  let next = 0;
  const worker = async () => {
    while (next < task.files) {
      const i = next++;
      const file = path.join(task.dir, `k${i % 2000}`);
      const handle = await fsp.open(`${file}.${i}.tmp`, 'wx');
      await handle.writeFile(`{"count":${i}}`, 'utf8');
      await handle.sync();
      await handle.close();
      await fsp.rename(`${file}.${i}.tmp`, file);
    }
  };
  const t = now();
  await Promise.all(Array.from({ length: 32 }, worker));
  const dir = await fsp.open(task.dir, 'r');
  await dir.sync();
  await dir.close();
  const elapsed = seconds(t);
  await fsp.rm(task.dir, { recursive: true, force: true });
  return { files: task.files, seconds: elapsed, eventsPerSec: task.files / elapsed, ...memory() };
}

const kinds = { plain, pipeline: pipelineRun, dashboard, writeLog, replay, redisClient, fsWrites };

kinds[task.kind](task).then(
  (result) => {
    process.stdout.write(`\nBENCH_RESULT ${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
