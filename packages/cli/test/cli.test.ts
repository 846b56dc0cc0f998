import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createStudentSimulators, generateEvents, mergeByTime, sampleLogPath, visibleText, wordCount, writeSampleLog } from '@learning-observer/examples';
import { EXIT, formatDuration, startProgress, captureIO, DEMO_FILESYSTEM_BATCH_SIZE } from '../src';
import { freePort } from '@learning-observer/kvs-test-suite';
import { lo, STACK_LINE, tempDir, writeFile } from './helpers';

let dir: string;
beforeAll(() => {
  dir = tempDir('lo-cli-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A directory with its own creds.yaml: a filesystem default and a second filesystem backend. */
function project(name: string): string {
  const p = path.join(dir, name);
  fs.mkdirSync(p);
  writeFile(p, 'creds.yaml', `kvs:\n  default:\n    type: filesystem\n    path: ${path.join(p, 'store')}\n  copy:\n    type: filesystem\n    path: ${path.join(p, 'copy')}\n`);
  return p;
}

const SMALL = { students: 2, docsPerStudent: 2, eventsPerStudent: 40, seed: 5 };
const REDUCER = 'writing_observer.writing_analysis';

/** The small log plus three bad lines (81-83) and a poisoned save (84). */
function smallLogWithProblems(p: string): string {
  const good = [...generateEvents(SMALL)].map((e) => JSON.stringify(e));
  const poisoned = JSON.stringify({
    client: { source: 'org.mitros.writing_analytics', event: 'google_docs_save', doc_id: 'D-poison', bundles: 'not a list' },
    metadata: { auth: { safe_user_id: 'gc-student-01' } },
    server: { time: 1700000999 },
  });
  return writeFile(p, 'log.jsonl', [...good, 'this is not json', '{"no_client":true}', '{"client":{"event":"x"},"server":{"time":"late"}}', poisoned].join('\n') + '\n');
}

describe('lo: help, usage errors and exit codes', () => {
  test('--help lists the commands and exit codes (exit 0)', async () => {
    const r = await lo(['--help'], { cwd: dir });
    expect(r.code).toBe(EXIT.OK);
    for (const c of ['replay', 'kvs', 'config', 'demo', 'sample']) expect(r.out).toContain(c);
    expect(r.out).toContain('2 usage, 3 invalid settings, 4 store unavailable');
  });

  test('every command has --help', async () => {
    for (const args of [['replay'], ['kvs'], ['config'], ['kvs', 'keys'], ['kvs', 'get'], ['kvs', 'dump'], ['kvs', 'load'], ['kvs', 'clear'], ['config', 'check'], ['demo'], ['sample']]) {
      const r = await lo([...args, '--help'], { cwd: dir });
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 0]);
      expect(r.out).toMatch(/^Usage: lo /);
    }
  });

  test('no arguments, unknown command, unknown option, missing argument: exit 2', async () => {
    expect((await lo([], { cwd: dir })).code).toBe(EXIT.USAGE);
    const unknown = await lo(['frobnicate'], { cwd: dir });
    expect(unknown.code).toBe(EXIT.USAGE);
    expect(unknown.err).toContain("unknown command 'frobnicate'");
    expect((await lo(['replay', 'x.jsonl', '--bogus'], { cwd: dir })).code).toBe(EXIT.USAGE);
    expect((await lo(['replay'], { cwd: dir })).code).toBe(EXIT.USAGE);
    expect((await lo(['replay', 'x', '--concurrency', '0'], { cwd: dir })).code).toBe(EXIT.USAGE);
  });

  test('main also accepts a whole process.argv', async () => {
    const { main } = await import('../src');
    const io = captureIO({ cwd: dir });
    expect(await main(['/usr/bin/node', '/repo/packages/cli/bin/lo.js', 'sample', '--help'], io)).toBe(0);
    expect(io.out()).toContain('Usage: lo sample');
  });

  test('a missing input file: exit 2, one line, no stack trace', async () => {
    const r = await lo(['replay', 'nope.jsonl', '--no-progress'], { cwd: dir });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.err).toBe('lo: Input file not found: nope.jsonl\n');
  });

  test('an unknown --modules name: exit 2, listing the known ones', async () => {
    const f = writeFile(dir, 'one.jsonl', JSON.stringify([...generateEvents({ students: 1, eventsPerStudent: 1 })][0]) + '\n');
    const r = await lo(['replay', f, '--modules', 'writing_observer,nope', '--no-progress'], { cwd: dir });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.err).toMatch(/^lo: Unknown example module nope; choose from writing_observer, toy_counter, action_summary\.\n$/);
  });
});

describe('lo replay', () => {
  test('summary numbers: events, skipped lines by reason with file:line, reducer errors with key and line, keys written', async () => {
    const p = project('replay');
    const log = smallLogWithProblems(p);
    const r = await lo(['replay', '--modules', 'writing_observer', log, '--json', '--no-progress'], { cwd: p });
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.FAILURES); // one reducer error
    const s = JSON.parse(r.out);
    expect(Object.keys(s)).toEqual([
      'files', 'modules', 'store', 'events', 'lines', 'skipped', 'reducerErrors', 'reducerRuns', 'batchSize', 'keysWritten', 'resume', 'alreadyApplied', 'sequencePath', 'badSequence', 'elapsedSeconds', 'eventsPerSecond',
    ]);
    expect(s.files).toEqual([log]);
    expect(s.modules).toEqual(['writing_observer']);
    expect(s.store).toEqual({ name: 'default', type: 'filesystem' });
    expect(s.events).toBe(81);
    expect(s.lines).toBe(84);
    expect(s.skipped).toEqual({
      total: 3,
      byReason: { 'not-json': 1, 'missing-client': 1, 'wrong-type': 1 },
      first: [
        { file: log, line: 81, reason: 'not-json', message: expect.stringMatching(/^not JSON/) },
        { file: log, line: 82, reason: 'missing-client', message: 'the event has no "client" field' },
        { file: log, line: 83, reason: 'wrong-type', message: 'server.time is a string, expected a number of seconds' },
      ],
    });
    expect(s.reducerErrors).toEqual({
      total: 1,
      byReducer: { [`${REDUCER}.reconstruct`]: 1 },
      first: [
        {
          reducer: `${REDUCER}.reconstruct`,
          key: `Internal,${REDUCER}.reconstruct,EventField.doc_id:D-poison,STUDENT:gc-student-01`,
          file: log,
          line: 84,
          message: expect.stringContaining('bundles'),
        },
      ],
    });
    const keys = await lo(['kvs', 'keys', '--json'], { cwd: p });
    expect(s.keysWritten).toBe(JSON.parse(keys.out).length);
    expect(s.keysWritten).toBeGreaterThan(10);
    expect(s.reducerRuns).toBeGreaterThan(s.events);
  });

  test('a gzip-compressed .study.log: events read, a bad line reported with its file and line, the replay goes on', async () => {
    const p = project('replay-study');
    const events = [...generateEvents({ students: 1, docsPerStudent: 1, eventsPerStudent: 6, seed: 3 })];
    const stamp = (i: number) => `\t2023-11-14T22:13:${String(20 + i).padStart(2, '0')}.5`;
    const lines = events.map((e, i) => JSON.stringify(e) + stamp(i));
    lines.splice(3, 0, '{"client": {"event": "keystroke"' + stamp(9)); // line 4: JSON cut short, then the tab
    const file = writeFile(p, 'gc-1.study.log.gz', zlib.gzipSync(lines.join('\n') + '\n'));
    const r = await lo(['replay', file, '-m', 'writing_observer', '--json', '--no-progress'], { cwd: p });
    expect([r.code, r.err]).toEqual([EXIT.OK, '']);
    const s = JSON.parse(r.out);
    expect([s.events, s.lines, s.skipped.total]).toEqual([6, 7, 1]);
    expect(s.skipped.first.map((b: any) => [b.file, b.line, b.reason])).toEqual([[file, 4, 'not-json']]);
    const count = JSON.parse((await lo(['kvs', 'dump'], { cwd: p })).out);
    const counts = Object.entries(count).filter(([k]) => k.startsWith(`External,${REDUCER}.event_count,`));
    expect(counts.map(([, v]) => v)).toEqual([{ count: 6 }]);
  });

  test('text summary', async () => {
    const p = project('replay-text');
    const log = smallLogWithProblems(p);
    const r = await lo(['replay', log, '-m', 'writing_observer', '--no-progress'], { cwd: p });
    expect(r.code).toBe(EXIT.FAILURES);
    expect(r.out).toMatch(/^Replayed 81 events from 1 file in \d+\.\d s \(\d[\d,]* events\/s\) through writing_observer\.\n/);
    expect(r.out).toContain('Skipped lines: 3 (not-json 1, missing-client 1, wrong-type 1).\n');
    expect(r.out).toContain(`  ${log}:82: missing-client: the event has no "client" field\n`);
    expect(r.out).toContain(`Reducer errors: 1 (${REDUCER}.reconstruct 1).\n  ${log}:84: ${REDUCER}.reconstruct key Internal,${REDUCER}.reconstruct,EventField.doc_id:D-poison,STUDENT:gc-student-01: `);
  });

  test('replaying a clean log twice through a stub store exits 0; gzip logs work', async () => {
    const p = path.join(dir, 'stub');
    fs.mkdirSync(p);
    writeFile(p, 'creds.yaml', 'kvs:\n  default:\n    type: stub\n');
    const log = path.join(p, 'clean.jsonl.gz');
    await writeSampleLog(log, SMALL);
    const r = await lo(['replay', log, log, '--json', '--no-progress'], { cwd: p });
    expect(r.code).toBe(EXIT.OK);
    const s = JSON.parse(r.out);
    expect([s.events, s.skipped.total, s.reducerErrors.total, s.modules]).toEqual([160, 0, 0, ['writing_observer', 'toy_counter', 'action_summary']]);
    const picked = await lo(['replay', '-m', 'toy_counter', '-m', 'writing_observer,action_summary', log, '--json', '--no-progress'], { cwd: p });
    expect(JSON.parse(picked.out).modules).toEqual(['toy_counter', 'writing_observer', 'action_summary']);
  });

  test('--batch-size gives the same store, results and summary counts as one transaction per event', async () => {
    const perEvent = project('replay-per-event');
    const batched = project('replay-batched');
    const logA = smallLogWithProblems(perEvent);
    const logB = smallLogWithProblems(batched);
    const a = await lo(['replay', logA, '--json', '--no-progress'], { cwd: perEvent });
    const b = await lo(['replay', logB, '--batch-size', '7', '--json', '--no-progress'], { cwd: batched });
    expect([a.code, b.code]).toEqual([EXIT.FAILURES, EXIT.FAILURES]);
    const [sa, sb] = [JSON.parse(a.out), JSON.parse(b.out)];
    expect([sa.batchSize, sb.batchSize]).toEqual([null, 7]);
    const counts = (s: any) => [s.events, s.skipped.total, s.reducerErrors.total, s.reducerErrors.byReducer, s.reducerRuns, s.keysWritten];
    expect(counts(sb)).toEqual(counts(sa));
    expect(sb.reducerErrors.first.map((e: any) => [e.reducer, e.key, e.line])).toEqual(sa.reducerErrors.first.map((e: any) => [e.reducer, e.key, e.line]));
    const dumpA = JSON.parse((await lo(['kvs', 'dump'], { cwd: perEvent })).out);
    const dumpB = JSON.parse((await lo(['kvs', 'dump'], { cwd: batched })).out);
    expect(Object.keys(dumpA).length).toBe(sa.keysWritten);
    expect(dumpB).toEqual(dumpA);
    expect((await lo(['replay', logA, '--batch-size', '0'], { cwd: perEvent })).code).toBe(EXIT.USAGE);
  });

  test('--reducers runs only the named reducers; an unknown one exits 2 listing the registered ids', async () => {
    const p = project('replay-reducers');
    const log = writeFile(p, 'log.jsonl', [...generateEvents(SMALL)].map((e) => JSON.stringify(e)).join('\n') + '\n');
    const tot = `${REDUCER}.time_on_task`;
    const r = await lo(['replay', '-m', 'writing_observer', '-r', tot, '--reducers', `${REDUCER}.event_count`, log, '--json', '--no-progress'], { cwd: p });
    expect(r.code).toBe(EXIT.OK);
    expect(JSON.parse(r.out).reducerRuns).toBe(2 * 80); // 80 events, 2 reducers
    const keys = (await lo(['kvs', 'keys'], { cwd: p })).out.trim().split('\n');
    expect(new Set(keys.map((k) => k.split(',')[1]))).toEqual(new Set([tot, `${REDUCER}.event_count`]));
    const bad = await lo(['replay', '-r', `${REDUCER}.time_on_tsk`, log, '--no-progress'], { cwd: p });
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.err).toMatch(/^lo: Unknown reducer "writing_observer\.writing_analysis\.time_on_tsk": the registered reducers are .*writing_observer\.writing_analysis\.time_on_task/);
    expect(bad.err).not.toMatch(STACK_LINE);
  });

  test('--sequence-path: positions from an event field; events already applied are skipped; a bad position is reported, exit 1', async () => {
    const p = project('replay-seq');
    const events = [...generateEvents(SMALL)].map((e, i) => ({ ...e, server: { ...(e.server as object), seq: 1000 + i } }));
    const full = writeFile(p, 'full.jsonl', events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    // One student's events first, then the whole log (a shard, then an overlapping one): the
    // student's events are skipped the second time, so every event is applied once.
    const byStudent = writeFile(p, 'one-student.jsonl', events.filter((e) => (e.metadata as any).auth.safe_user_id === 'gc-student-01').map((e) => JSON.stringify(e)).join('\n') + '\n');
    const args = ['-m', 'writing_observer', '-r', `${REDUCER}.time_on_task`, '--sequence-path', 'server.seq', '--json', '--no-progress'];
    const a = await lo(['replay', ...args, byStudent], { cwd: p });
    expect(a.code).toBe(EXIT.OK);
    const sa = JSON.parse(a.out);
    expect([sa.resume, sa.sequencePath, sa.alreadyApplied, sa.reducerRuns]).toEqual([true, 'server.seq', 0, 40]);
    const b = await lo(['replay', ...args, full], { cwd: p });
    const sb = JSON.parse(b.out);
    expect([b.code, sb.events, sb.alreadyApplied, sb.reducerRuns, sb.badSequence.total]).toEqual([EXIT.OK, 80, 40, 40, 0]);
    // The store equals one plain replay of the whole log (internal states unwrapped).
    const plain = project('replay-seq-plain');
    expect((await lo(['replay', '-m', 'writing_observer', '-r', `${REDUCER}.time_on_task`, '--no-progress', full], { cwd: plain })).code).toBe(EXIT.OK);
    const unwrap = (d: Record<string, any>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, k.startsWith('Internal,') ? v.state : v]));
    expect(unwrap(JSON.parse((await lo(['kvs', 'dump'], { cwd: p })).out))).toEqual(JSON.parse((await lo(['kvs', 'dump'], { cwd: plain })).out));
    // Events without a usable position are not applied and are reported with file and line.
    const bad = writeFile(p, 'bad.jsonl', [
      { ...events[0], server: { time: 1 } },
      { ...events[1], server: { time: 2, seq: -1 } },
      { ...events[2], server: { time: 3, seq: '7' } },
    ].map((e) => JSON.stringify(e)).join('\n') + '\n');
    const c = await lo(['replay', ...args, bad], { cwd: p });
    expect(c.code).toBe(EXIT.FAILURES);
    const sc = JSON.parse(c.out);
    expect([sc.events, sc.reducerRuns, sc.badSequence.total]).toEqual([3, 0, 3]);
    expect(sc.badSequence.first.map((x: any) => [x.line, x.message])).toEqual([
      [1, 'server.seq is missing, not a whole number >= 0: event not applied'],
      [2, 'server.seq is -1, not a whole number >= 0: event not applied'],
      [3, 'server.seq is "7", not a whole number >= 0: event not applied'],
    ]);
    const text = await lo(['replay', ...args.filter((x) => x !== '--json'), bad], { cwd: p });
    expect(text.out).toContain('Events not applied, no valid position at server.seq: 3.');
    expect(text.out).toContain(`${bad}:2: server.seq is -1, not a whole number >= 0: event not applied`);
    expect((await lo(['replay', '--sequence-path', 'server..seq', full], { cwd: p })).code).toBe(EXIT.USAGE);
  });

  test('an invalid settings file: exit 3 with every problem, no stack trace', async () => {
    const p = path.join(dir, 'badcfg');
    fs.mkdirSync(p);
    writeFile(p, 'creds.yaml', 'kvs:\n  cache:\n    type: redis_ephemeral\n');
    const log = writeFile(p, 'l.jsonl', '\n');
    const r = await lo(['replay', log, '--no-progress'], { cwd: p });
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.err).toMatch(/^lo: Invalid key-value store settings in .*creds\.yaml \(2 problems; fix each line below\):\n/);
    expect(r.err).toContain('kvs.cache.expiry');
    expect(r.err).not.toMatch(STACK_LINE);
  });

  test('an unreachable store: exit 4 naming host:port, no stack trace', async () => {
    const port = await freePort();
    const p = path.join(dir, 'down');
    fs.mkdirSync(p);
    writeFile(p, 'creds.yaml', `redis_connection:\n  host: 127.0.0.1\n  port: ${port}\n  connectTimeoutMs: 300\n  commandTimeoutMs: 500\nkvs:\n  default:\n    type: redis\n    maxRetries: 1\n`);
    const log = writeFile(p, 'l.jsonl', JSON.stringify([...generateEvents({ students: 1, eventsPerStudent: 1 })][0]) + '\n');
    const r = await lo(['replay', log, '--no-progress'], { cwd: p });
    expect(r.code).toBe(EXIT.STORE_UNAVAILABLE);
    expect(r.err).toContain(`127.0.0.1:${port}`);
    expect(r.err.split('\n').filter((l) => l !== '').length).toBe(1);
    expect(r.err).not.toMatch(STACK_LINE);
    const k = await lo(['kvs', 'keys'], { cwd: p });
    expect(k.code).toBe(EXIT.STORE_UNAVAILABLE);
  });
});

describe('lo config check', () => {
  test('a bad settings file: every problem listed, exit 3, no stack trace', async () => {
    const p = path.join(dir, 'cfg-bad');
    fs.mkdirSync(p);
    const file = writeFile(
      p,
      'bad.yaml',
      ['redis_connection:', '  port: "six"', 'kvs:', '  cache:', '    type: redis_ephemeral', '  files:', '    type: filesystem', '  weird:', '    type: mongo', ''].join('\n'),
    );
    const r = await lo(['config', 'check', '--config', file], { cwd: p });
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.out).toContain(`Settings: ${file} (from --config)\n`);
    for (const where of ['redis_connection.port', 'kvs.cache.expiry', 'kvs.files.path', 'kvs.weird.type', 'kvs.default']) expect(r.out).toContain(where);
    expect(r.out).toContain('mongo');
    expect(r.out).not.toMatch(STACK_LINE);
    expect(r.err).toBe('');

    const j = await lo(['config', 'check', '--config', file, '--json'], { cwd: p });
    expect(j.code).toBe(EXIT.CONFIG);
    const report = JSON.parse(j.out);
    expect(report.ok).toBe(false);
    expect(report.issues.map((i: { path: string }) => i.path).sort()).toEqual(
      ['kvs.cache.expiry', 'kvs.default', 'kvs.files.path', 'kvs.weird.type', 'redis_connection.port'].sort(),
    );
  });

  test('malformed YAML and a missing file: exit 3', async () => {
    const file = writeFile(dir, 'broken.yaml', 'kvs:\n  default: {type: stub\n');
    const r = await lo(['config', 'check', '--config', file], { cwd: dir });
    expect(r.code).toBe(EXIT.CONFIG);
    expect(r.out).toMatch(/broken\.yaml:\d+:\d+: /);
    const m = await lo(['config', 'check', '--config', 'nowhere.yaml'], { cwd: dir });
    expect(m.code).toBe(EXIT.CONFIG);
    expect(m.out).toContain('the file does not exist');
  });

  test('a valid file: each backend -> type and class; a volatile default is warned about', async () => {
    const file = writeFile(dir, 'ok.yaml', 'kvs:\n  default:\n    type: stub\n  files:\n    type: filesystem\n    path: /tmp/x\n  cache:\n    type: redis_ephemeral\n    expiry: 30\n');
    const r = await lo(['config', 'check', '--config', file], { cwd: dir });
    expect(r.code).toBe(EXIT.OK);
    expect(r.out).toMatch(/^default +stub +InMemoryKVS +yes *$/m);
    expect(r.out).toMatch(/^files +filesystem +FilesystemKVS +no +path=\/tmp\/x subdirs=false$/m);
    expect(r.out).toMatch(/^cache +redis_ephemeral +EphemeralRedisKVS +yes +expiry=30/m);
    expect(r.out).toContain('Warning: kvs.default: the default backend is "stub", which is volatile: its state starts empty after every restart');
    expect(r.out).toContain('Settings are valid (3 backends).');
    const j = JSON.parse((await lo(['config', 'check', '--config', file, '--json'], { cwd: dir })).out);
    expect(j.ok).toBe(true);
    expect(j.backends).toEqual([
      { name: 'default', type: 'stub', className: 'InMemoryKVS', volatile: true },
      { name: 'files', type: 'filesystem', className: 'FilesystemKVS', volatile: false },
      { name: 'cache', type: 'redis_ephemeral', className: 'EphemeralRedisKVS', volatile: true },
    ]);
    expect(j.warnings).toHaveLength(2);
    expect(j.warnings[0]).toMatch(/^kvs\.cache\.prefix: backend "cache" \(type redis_ephemeral\) has no prefix, so it sees every key of its Redis db/);

    const eph = writeFile(dir, 'eph.yaml', 'kvs:\n  default:\n    type: redis_ephemeral\n    expiry: 60\n');
    expect((await lo(['config', 'check', '--config', eph], { cwd: dir })).out).toContain('the default backend is "redis_ephemeral", which is volatile');
    const fsOnly = writeFile(dir, 'fs.yaml', 'kvs:\n  default:\n    type: filesystem\n    path: /tmp/y\n');
    expect((await lo(['config', 'check', '--config', fsOnly], { cwd: dir })).out).not.toContain('Warning');
  });

  test('config resolution: --config, then LO_CONFIG, then ./creds.yaml, then the built-in default', async () => {
    const p = path.join(dir, 'resolve');
    fs.mkdirSync(p);
    const label = async (args: string[], env: Record<string, string> = {}) => JSON.parse((await lo(['config', 'check', '--json', ...args], { cwd: p, env })).out).settings;
    expect(await label([])).toBe(`built-in default (filesystem store at ${path.join(p, '.lo_kvs')})`);
    writeFile(p, 'creds.yaml', 'kvs:\n  default:\n    type: stub\n');
    expect(await label([])).toBe(`${path.join(p, 'creds.yaml')} (from ./creds.yaml)`);
    writeFile(p, 'env.yaml', 'kvs:\n  default:\n    type: stub\n');
    expect(await label([], { LO_CONFIG: 'env.yaml' })).toBe(`${path.join(p, 'env.yaml')} (from LO_CONFIG)`);
    writeFile(p, 'flag.yaml', 'kvs:\n  default:\n    type: stub\n');
    expect(await label(['--config', 'flag.yaml'], { LO_CONFIG: 'env.yaml' })).toBe(`${path.join(p, 'flag.yaml')} (from --config)`);
  });
});

describe('lo kvs', () => {
  test('keys, get, dump, load, clear', async () => {
    const p = project('kvs');
    const log = path.join(p, 'log.jsonl');
    await writeSampleLog(log, { students: 1, docsPerStudent: 1, eventsPerStudent: 20, seed: 2 });
    expect((await lo(['replay', log, '-m', 'writing_observer', '--no-progress'], { cwd: p })).code).toBe(0);

    const keys = await lo(['kvs', 'keys'], { cwd: p });
    expect(keys.code).toBe(0);
    const list = keys.out.trim().split('\n');
    expect(list).toEqual([...list].sort());
    const countKey = list.find((k) => k.startsWith(`External,${REDUCER}.event_count,`))!;
    expect(countKey).toMatch(/^External,writing_observer\.writing_analysis\.event_count,EventField\.doc_id:[\w-]{44},STUDENT:gc-student-01$/);

    const prefixed = await lo(['kvs', 'keys', `External,${REDUCER}.event_count,`, '--json'], { cwd: p });
    expect(JSON.parse(prefixed.out)).toEqual([countKey]);

    const get = await lo(['kvs', 'get', countKey], { cwd: p });
    expect([get.code, JSON.parse(get.out)]).toEqual([0, { count: 20 }]);
    const missing = await lo(['kvs', 'get', 'External,nope,STUDENT:x'], { cwd: p });
    expect(missing.code).toBe(EXIT.FAILURES);
    expect(missing.err).toBe('lo: no key "External,nope,STUDENT:x" in backend "default" (list them with: lo kvs keys)\n');

    const dumped = await lo(['kvs', 'dump'], { cwd: p });
    const all = JSON.parse(dumped.out);
    expect(Object.keys(all).sort()).toEqual(list);
    expect(all[countKey]).toEqual({ count: 20 });

    const toFile = await lo(['kvs', 'dump', 'dump.json', '--json'], { cwd: p });
    expect(JSON.parse(toFile.out)).toEqual({ backend: 'default', file: path.join(p, 'dump.json'), keys: list.length });
    const load = await lo(['kvs', 'load', 'dump.json', '--backend', 'copy'], { cwd: p });
    expect(load.out).toBe(`Loaded ${list.length} keys from ${path.join(p, 'dump.json')} into backend "copy".\n`);
    expect(JSON.parse((await lo(['kvs', 'dump', '-b', 'copy'], { cwd: p })).out)).toEqual(all);

    const refuse = await lo(['kvs', 'clear'], { cwd: p });
    expect(refuse.code).toBe(EXIT.USAGE);
    expect(refuse.err).toContain('without --yes');
    const clear = await lo(['kvs', 'clear', '--yes', '--json'], { cwd: p });
    expect(JSON.parse(clear.out)).toEqual({ backend: 'default', removed: list.length });
    expect((await lo(['kvs', 'keys'], { cwd: p })).out).toBe('');
    expect(JSON.parse((await lo(['kvs', 'keys', '-b', 'copy', '--json'], { cwd: p })).out)).toHaveLength(list.length);

    const unknown = await lo(['kvs', 'keys', '--backend', 'nope'], { cwd: p });
    expect(unknown.code).toBe(EXIT.USAGE);
    expect(unknown.err).toMatch(/^lo: No KVS backend is named "nope"/);
    const noFile = await lo(['kvs', 'load', 'absent.json'], { cwd: p });
    expect([noFile.code, noFile.err]).toEqual([EXIT.USAGE, 'lo: Cannot load absent.json: no such file.\n']);
  });
});

describe('lo demo', () => {
  test('replays the bundled sample and prints the per-student table (events, time on task, words)', async () => {
    const p = path.join(dir, 'demo');
    fs.mkdirSync(p);
    writeFile(p, 'creds.yaml', 'kvs:\n  default:\n    type: stub\n');

    // Expected numbers, computed independently from the generator.
    const sims = createStudentSimulators();
    const perDoc = new Map<string, { student: string; last?: number; tot: number; n: number }>();
    for (const { event } of mergeByTime(sims.map((s) => s.events()))) {
      const key = event.client.doc_id as string;
      const d = perDoc.get(key) ?? { student: event.metadata.auth.safe_user_id, tot: 0, n: 0 };
      if (d.last !== undefined) d.tot += Math.min(60, event.server.time - d.last);
      d.last = event.server.time;
      d.n += 1;
      perDoc.set(key, d);
    }
    const texts: Record<string, string> = {};
    for (const s of sims) Object.assign(texts, s.texts());
    const expected = new Map<string, { documents: number; events: number; time: number; words: number }>();
    for (const [doc, d] of perDoc) {
      const e = expected.get(d.student) ?? { documents: 0, events: 0, time: 0, words: 0 };
      e.documents += 1;
      e.events += d.n;
      e.time += d.tot;
      e.words += wordCount(visibleText({ text: texts[doc] }));
      expected.set(d.student, e);
    }

    const j = await lo(['demo', '--json', '--no-progress'], { cwd: p });
    expect(j.code).toBe(0);
    const report = JSON.parse(j.out);
    expect(report.replay.events).toBe(2400);
    expect(report.students.map((r: any) => r.student)).toEqual([...expected.keys()].sort());
    for (const row of report.students) {
      const e = expected.get(row.student)!;
      expect([row.student, row.documents, row.events, row.words]).toEqual([row.student, e.documents, e.events, e.words]);
      expect(row.timeOnTaskSeconds).toBeCloseTo(e.time, 3);
    }

    const t = await lo(['demo', '--no-progress'], { cwd: p });
    expect(t.code).toBe(0);
    expect(t.out).toContain('Student             Docs  Events  Time on task  Words\n');
    const first = report.students[0];
    expect(t.out).toMatch(new RegExp(`^${first.student} +${first.documents} +${first.events} +${formatDuration(first.timeOnTaskSeconds).replace(':', '\\:')} +${first.words}$`, 'm'));
    expect(t.out).toMatch(/^Total \(8 students\) +\d+ +2,400 +\d+:\d\d +\d+$/m);
    expect(t.out).toContain('so reruns give the same numbers');
  });

  test('reruns on the built-in filesystem default (./.lo_kvs) give the same table', async () => {
    // A smaller log (--log) keeps this fast; the bundled sample takes the same code path.
    const p = path.join(dir, 'demo-fs');
    fs.mkdirSync(p);
    await writeSampleLog(path.join(p, 'small.jsonl.gz'), { students: 3, eventsPerStudent: 40, seed: 9 });
    const a = await lo(['demo', '--log', 'small.jsonl.gz', '--json', '--no-progress'], { cwd: p });
    expect(a.code).toBe(0);
    const first = JSON.parse(a.out);
    expect(first.settings).toBe(`built-in default (filesystem store at ${path.join(p, '.lo_kvs')})`);
    expect(first.cleared).toBe(0);
    expect(first.students.map((r: any) => [r.student, r.events])).toEqual([
      ['gc-student-01', 40],
      ['gc-student-02', 40],
      ['gc-student-03', 40],
    ]);
    const b = await lo(['demo', '--log', 'small.jsonl.gz', '--json', '--no-progress'], { cwd: p });
    const second = JSON.parse(b.out);
    expect(second.students).toEqual(first.students);
    expect(second.cleared).toBe(first.replay.keysWritten);
    // On a filesystem store the demo replays in batches (far fewer file locks and fsyncs) ...
    expect([first.replay.batchSize, second.replay.batchSize]).toEqual([DEMO_FILESYSTEM_BATCH_SIZE, DEMO_FILESYSTEM_BATCH_SIZE]);
    // ... and one transaction per event gives the same table.
    const c = await lo(['demo', '--log', 'small.jsonl.gz', '--batch-size', '1', '--json', '--no-progress'], { cwd: p });
    const perEvent = JSON.parse(c.out);
    expect(perEvent.replay.batchSize).toBe(1);
    expect(perEvent.students).toEqual(first.students);
    expect(fs.readdirSync(path.join(p, '.lo_kvs')).length).toBeGreaterThan(0);
    expect((await lo(['demo', '--log', 'missing.jsonl'], { cwd: p })).code).toBe(EXIT.USAGE);
  });
});

describe('lo sample', () => {
  test('writes a seeded log; the defaults reproduce the bundled sample byte for byte', async () => {
    const r = await lo(['sample', 'out.jsonl', '--students', '2', '--events', '30', '--seed', '4', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ path: path.join(dir, 'out.jsonl'), events: 60, bytes: fs.statSync(path.join(dir, 'out.jsonl')).size, gzip: false });
    const again = await lo(['sample', 'again.jsonl.gz'], { cwd: dir });
    expect(again.out).toMatch(/^Wrote 2,400 events \(.+\) to .*again\.jsonl\.gz\.\n$/);
    expect(zlib.gunzipSync(fs.readFileSync(path.join(dir, 'again.jsonl.gz'))).equals(zlib.gunzipSync(fs.readFileSync(sampleLogPath())))).toBe(true);
    expect((await lo(['sample', 'x.jsonl', '--students', '0'], { cwd: dir })).code).toBe(EXIT.USAGE);
  });
});

describe('progress lines', () => {
  test('without a terminal, plain periodic lines on stderr', async () => {
    const io = captureIO();
    const stop = startProgress(io, () => ({ events: 1500, bytesRead: 512, totalBytes: 1024 }), { label: 'replay', intervalSeconds: 0.02 });
    await new Promise((r) => setTimeout(r, 120));
    stop();
    expect(io.err()).toMatch(/^replay: 1,500 events, 50% of 1\.0 KB, [\d,]+ events\/s, ETA \d+:\d\d\n/);
    expect(io.out()).toBe('');
  });

  test('on a terminal, a progress bar (percentage, events, events/s, ETA) and no periodic lines', async () => {
    // A terminal-like stderr (cli-progress draws only on a stream that says it is a TTY).
    let err = '';
    const io = { ...captureIO({ isTTY: true }), stderr: { isTTY: true, columns: 120, write: (t: string) => ((err += t), true) } };
    const stop = startProgress(io, () => ({ events: 1500, bytesRead: 512, totalBytes: 1024 }), { label: 'replay', intervalSeconds: 0.02 });
    await new Promise((r) => setTimeout(r, 300));
    stop();
    expect(err).toContain('replay [');
    expect(err).toMatch(/\] 100% \| 1,500 events \| [\d,]+ events\/s \| ETA 0:00/);
    expect(err).not.toContain('replay: 1,500 events');
    expect(io.out()).toBe('');
  });
});
