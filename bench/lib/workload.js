'use strict';
/**
 * What the benchmark runs: the seeded writing-observer log, the reducer sets, and the stores.
 * Everything here is plain CommonJS on top of the built packages (packages/* /dist, examples/dist).
 */
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { once } = require('node:events');

const examples = require('@learning-observer/examples');
const reducers = require('@learning-observer/reducers');
const kvs = require('@learning-observer/kvs');

const WO_MODULE = 'writing_observer.writing_analysis';
const WO_CONTEXT = 'org.mitros.writing_analytics';
const COUNTER_ID = 'lo_toy_sba.reducers.student_event_counter';

/** Reducers of the writing observer the per-reducer runs report (the original's measured ones first). */
const WO_REDUCERS = [
  'time_on_task',
  'binned_time_on_task',
  'reconstruct',
  'event_count',
  'document_list',
  'last_document',
  'document_access_timestamps',
  'document_tagging',
];

/**
 * The toy counter of the examples (`ToyCounterModule.studentEventCounter`, same module, qualname and
 * state), registered for the writing-observer source so that it sees the writing-observer log.
 */
function counterSpec() {
  const instance = new examples.ToyCounterModule();
  return reducers.defineReducer(
    {
      module: 'lo_toy_sba.reducers',
      qualname: 'student_event_counter',
      context: WO_CONTEXT,
      nullState: { count: 0 },
      default: { count: 0 },
      thisArg: instance,
    },
    examples.ToyCounterModule.prototype.studentEventCounter,
  );
}

/**
 * Modules and reducer filter for a reducer set name: `counter`, `wo` (every writing-observer reducer)
 * or one writing-observer qualname.
 */
function reducerSet(name) {
  if (name === 'counter') return { modules: [counterSpec()], reducers: undefined };
  const wo = new examples.WritingObserverModule({ onUnknownCommand: () => undefined });
  // Two reducers whose state has a fixed size per key (memory can only grow with keys).
  if (name === 'bounded') return { modules: [counterSpec(), wo], reducers: [COUNTER_ID, `${WO_MODULE}.time_on_task`] };
  if (name === 'wo') return { modules: [wo], reducers: undefined };
  if (WO_REDUCERS.includes(name)) return { modules: [wo], reducers: [`${WO_MODULE}.${name}`] };
  throw new Error(`unknown reducer set ${name}`);
}

/** The generator options of a workload (`events` spread over `students`, seeded). */
function generatorOptions(w) {
  return { students: w.students, totalEvents: w.events, seed: w.seed ?? 1, docsPerStudent: 2 };
}

/** Yields the seeded log in arrays of `size` events, so a million events never sit in memory at once. */
function* chunks(w, size) {
  let chunk = [];
  for (const event of examples.generateEvents(generatorOptions(w))) {
    chunk.push(event);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Writes the seeded log as gzip JSON lines (fast compression level: this is test data). */
async function writeGzipLog(file, w) {
  const out = fs.createWriteStream(file);
  const gz = zlib.createGzip({ level: 1 });
  gz.pipe(out);
  let events = 0;
  let batch = '';
  for (const event of examples.generateEvents(generatorOptions(w))) {
    batch += JSON.stringify(event) + '\n';
    events++;
    if (batch.length >= 1 << 20) {
      if (!gz.write(batch)) await once(gz, 'drain');
      batch = '';
    }
  }
  gz.end(batch);
  await once(out, 'close');
  return { events, bytes: fs.statSync(file).size };
}

/** Opens the store a task asks for. */
function openStore(task) {
  switch (task.backend) {
    case 'memory':
      return new kvs.InMemoryKVS();
    case 'filesystem':
      fs.mkdirSync(task.dir, { recursive: true });
      return new kvs.FilesystemKVS({ path: task.dir });
    case 'redis':
      return new kvs.PersistentRedisKVS({ prefix: task.prefix, connection: task.redis, checkPersistence: false });
    default:
      throw new Error(`unknown backend ${task.backend}`);
  }
}

module.exports = {
  WO_MODULE,
  WO_CONTEXT,
  WO_REDUCERS,
  COUNTER_ID,
  counterSpec,
  reducerSet,
  generatorOptions,
  chunks,
  writeGzipLog,
  openStore,
  path,
};
