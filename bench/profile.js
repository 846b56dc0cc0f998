#!/usr/bin/env node
'use strict';
/**
 * Profiles one benchmark measurement with `node --cpu-prof` and prints the functions with the
 * most self time. The .cpuprofile is kept under bench/results/profiles/ (open it in Chrome
 * DevTools > Performance, or VS Code).
 *
 *   npm run build && node bench/profile.js [set] [mode] [backend] [events]
 *   node bench/profile.js counter exact memory 300000
 *   node bench/profile.js wo batched redis
 *
 * set: counter | wo | bounded | a writing-observer qualname; mode: exact | batched;
 * backend: memory | filesystem | redis (a throwaway redis-server is started).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const [set = 'counter', mode = 'exact', backend = 'memory', events = '200000'] = process.argv.slice(2);
const dir = path.join(__dirname, 'results', 'profiles');

function summarize(file, top = 25) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const selfTime = new Map();
  const byNode = new Map();
  profile.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) || 0) + (profile.timeDeltas[i] || 0)));
  let total = 0;
  for (const node of profile.nodes) {
    const t = byNode.get(node.id) || 0;
    total += t;
    const f = node.callFrame;
    const where = f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '';
    const name = `${f.functionName || '(anonymous)'} ${where}`.trim();
    selfTime.set(name, (selfTime.get(name) || 0) + t);
  }
  return [...selfTime]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, t]) => `${((100 * t) / total).toFixed(1).padStart(5)} %  ${name}`)
    .join('\n');
}

async function main() {
  fs.mkdirSync(dir, { recursive: true });
  let server;
  let dataDir;
  const task = { kind: 'pipeline', backend, set, mode, batchSize: 1000, events: Number(events), students: 1000, seed: 1, chunk: 10000, warmup: 20000 };
  if (backend === 'redis') {
    const { startRedisServer } = require(path.join(__dirname, '..', 'packages/kvs-test-suite/dist/redisServer.js'));
    server = await startRedisServer();
    Object.assign(task, { redis: { host: server.host, port: server.port }, prefix: 'profile:' });
  }
  if (backend === 'filesystem') task.dir = dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lo-profile-'));
  const before = new Set(fs.readdirSync(dir));
  try {
    const run = spawnSync(process.execPath, ['--expose-gc', '--cpu-prof', `--cpu-prof-dir=${dir}`, path.join(__dirname, 'worker.js'), JSON.stringify(task)], { encoding: 'utf8' });
    const line = run.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
    if (!line) throw new Error(run.stderr || 'worker failed');
    const result = JSON.parse(line.slice('BENCH_RESULT '.length));
    const file = fs.readdirSync(dir).find((f) => !before.has(f));
    console.log(`${set} ${mode} on ${backend}: ${Math.round(result.eventsPerSec).toLocaleString('en')} events/s (the profile also covers generating the log)`);
    console.log(`profile: ${path.relative(process.cwd(), path.join(dir, file))}\n`);
    console.log(summarize(path.join(dir, file)));
  } finally {
    if (server) await server.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
