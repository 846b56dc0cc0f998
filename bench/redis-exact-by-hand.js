#!/usr/bin/env node
'use strict';
/**
 * The Redis exact row's work by hand, next to the pipeline, in one process, chunk by chunk in
 * alternating order: the toy counter over the bench's log (seed 1, 1,000 students), exact
 * per-event semantics on both sides (per student, one event at a time; each event's state
 * compare-and-set through the store's own script, `COMPARE_AND_SET_MANY`, the calls of one
 * event-loop turn batched as the store batches them; at most `concurrency` events in flight,
 * those waiting behind their student included), on a throwaway redis-server.
 * What is left between the two is the framework (pipeline and store): its CPU per event.
 *
 *   npm run build && node --expose-gc bench/redis-exact-by-hand.js [events] [concurrency]
 */
const path = require('node:path');
const Redis = require('ioredis');
const w = require('./lib/workload');
const reducers = require('@learning-observer/reducers');
const kvs = require('@learning-observer/kvs');
const cas = require('../packages/kvs/dist/backends/redisCompareAndSet.js');
const { startRedisServer } = require('../packages/kvs-test-suite/dist/redisServer.js');

const [events = '100000', concurrency = '256'] = process.argv.slice(2);
const COUNTER = 'lo_toy_sba.reducers.student_event_counter,STUDENT:';
const now = () => process.hrtime.bigint();
const settle = () => {
  if (global.gc) {
    global.gc({ type: 'minor' });
    global.gc({ type: 'minor' });
  }
};

function studentOf(event) {
  const auth = event.metadata && event.metadata.auth;
  return (auth && auth.safe_user_id) || '[guest]';
}

/** The counter over `chunk` by hand; `texts` holds each student's last written text. */
function byHand(client, prefix, texts, chunk, limit) {
  return new Promise((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let done = 0;
    const waiting = new Map(); // student -> events waiting behind the one in flight
    let batch;
    const flush = () => {
      const items = batch;
      batch = undefined;
      for (const call of cas.compareAndSetCalls(items, 0)) {
        client.evalsha(cas.COMPARE_AND_SET_MANY_SHA, call.keyCount, call.args).then((replies) => {
          for (let i = 0; i < replies.length; i++) call.items[i].written(replies[i]);
        }, reject);
      }
    };
    const apply = (student) => {
      const expected = texts.get(student);
      const previous = expected === undefined ? undefined : JSON.parse(expected);
      const text = JSON.stringify({ count: (previous === undefined ? 0 : previous.count) + 1 });
      if (batch === undefined) {
        batch = [];
        setImmediate(flush);
      }
      const keys = [`${prefix}Internal,${COUNTER}${student}`, `${prefix}External,${COUNTER}${student}`];
      const written = (reply) => {
        if (reply !== 1) return reject(new Error(`compare-and-set of ${student} answered ${reply}`));
        texts.set(student, text);
        done++;
        inFlight--;
        const queue = waiting.get(student);
        if (queue > 0) {
          waiting.set(student, queue - 1);
          apply(student);
        } else {
          waiting.delete(student);
        }
        pump();
      };
      batch.push(new cas.PendingCompareAndSet(student, keys, expected ?? null, true, [text, undefined], written, reject));
    };
    const pump = () => {
      while (inFlight < limit && next < chunk.length) {
        const student = studentOf(chunk[next++]);
        inFlight++;
        const queue = waiting.get(student);
        if (queue !== undefined) {
          waiting.set(student, queue + 1);
          continue;
        }
        waiting.set(student, 0);
        apply(student);
      }
      if (done === chunk.length) resolve();
    };
    pump();
  });
}

function drain(pipeline, chunk) {
  return new Promise((resolve, reject) => pipeline.run(chunk).subscribe({ error: reject, complete: resolve }));
}

async function main() {
  const server = await startRedisServer();
  const connection = { host: server.host, port: server.port };
  const client = new Redis(connection);
  const store = new kvs.PersistentRedisKVS({ prefix: 'pipeline:', connection, checkPersistence: false });
  try {
    await client.script('LOAD', cas.COMPARE_AND_SET_MANY);
    const set = w.reducerSet('counter');
    const pipeline = new reducers.ReducerPipeline({ modules: set.modules, reducers: set.reducers, store, concurrency: Number(concurrency) });
    const texts = new Map();
    const sides = {
      'by hand': { run: (chunk) => byHand(client, 'hand:', texts, chunk, Number(concurrency)), wall: 0n, cpu: 0 },
      pipeline: { run: (chunk) => drain(pipeline, chunk), wall: 0n, cpu: 0 },
    };
    const warmTexts = new Map();
    for (const chunk of w.chunks({ events: 20000, students: 1000, seed: 7 }, 10000)) {
      await byHand(client, 'warmup:', warmTexts, chunk, Number(concurrency));
      await drain(pipeline, chunk);
    }
    let n = 0;
    let turn = 0;
    for (const chunk of w.chunks({ events: Number(events), students: 1000, seed: 1 }, 10000)) {
      const order = turn++ % 2 ? ['by hand', 'pipeline'] : ['pipeline', 'by hand'];
      for (const name of order) {
        settle();
        const cpu = process.cpuUsage();
        const t = now();
        await sides[name].run(chunk);
        sides[name].wall += now() - t;
        const used = process.cpuUsage(cpu);
        sides[name].cpu += used.user + used.system;
      }
      n += chunk.length;
    }
    const check = await client.mget(`hand:External,${COUNTER}${[...texts.keys()][0]}`, `pipeline:External,${COUNTER}${[...texts.keys()][0]}`);
    for (const [name, s] of Object.entries(sides)) {
      const seconds = Number(s.wall) / 1e9;
      console.log(`${name.padEnd(8)}  ${(n / seconds / 1000).toFixed(1)}k events/s  ${((seconds / n) * 1e6).toFixed(2)} µs wall, ${(s.cpu / n).toFixed(2)} µs CPU per event`);
    }
    console.log(`pipeline / by hand: ${(Number(sides['by hand'].wall) / Number(sides.pipeline.wall)).toFixed(2)}x; one student's counter: ${check.join(' / ')} (the pipeline's includes the warm-up)`);
  } finally {
    client.disconnect();
    await store.close();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
