import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { runReducers } from '@learning-observer/reducers';
import {
  createStudentSimulators,
  generateEvents,
  mergeByTime,
  resolveGenerateOptions,
  SAMPLE_DEFAULTS,
  sampleLogPath,
  SampleEvent,
  SeededRandom,
  visibleText,
  WritingObserverModule,
  writeSampleLog,
} from '@learning-observer/examples';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lo-sample-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A minimal independent interpreter of the commands the generator emits (1-based, inclusive ds). */
function apply(text: string, cmd: any): string {
  switch (cmd.ty) {
    case 'is':
      return text.slice(0, cmd.ibi - 1) + cmd.s + text.slice(cmd.ibi - 1);
    case 'ds':
      return text.slice(0, cmd.si - 1) + text.slice(cmd.ei);
    case 'mlti':
      return cmd.mts.reduce(apply, text);
    case 'as':
      return text;
    default:
      throw new Error(`unexpected command ${cmd.ty}`);
  }
}

describe('SeededRandom', () => {
  test('mulberry32: fixed sequence for a seed', () => {
    const r = new SeededRandom(42);
    const seq = [r.next(), r.next(), r.next()];
    // The published mulberry32 sequence for seed 42.
    expect(seq).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    const again = new SeededRandom(42);
    expect([again.next(), again.next(), again.next()]).toEqual(seq);
    expect(new SeededRandom(43).next()).not.toBe(seq[0]);
    expect(seq.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new SeededRandom(1).int(1, 6)).toBe(new SeededRandom(1).int(1, 6));
  });
});

describe('generateEvents', () => {
  const small = { students: 3, docsPerStudent: 2, eventsPerStudent: 300, seed: 7 };

  test('is deterministic: same options and seed give the same events; another seed differs', () => {
    const a = [...generateEvents(small)].map((e) => JSON.stringify(e));
    const b = [...generateEvents(small)].map((e) => JSON.stringify(e));
    expect(a).toEqual(b);
    const c = [...generateEvents({ ...small, seed: 8 })].map((e) => JSON.stringify(e));
    expect(c).not.toEqual(a);
  });

  test('exact event counts: eventsPerStudent per student, or totalEvents spread evenly', () => {
    const per = new Map<string, number>();
    for (const e of generateEvents(small)) per.set(e.metadata.auth.safe_user_id, (per.get(e.metadata.auth.safe_user_id) ?? 0) + 1);
    expect([...per.entries()].sort()).toEqual([
      ['gc-student-01', 300],
      ['gc-student-02', 300],
      ['gc-student-03', 300],
    ]);
    const total = [...generateEvents({ students: 4, totalEvents: 1001, seed: 1 })];
    expect(total.length).toBe(1001);
    const counts = new Map<string, number>();
    for (const e of total) counts.set(e.metadata.auth.safe_user_id, (counts.get(e.metadata.auth.safe_user_id) ?? 0) + 1);
    expect([...counts.values()].sort()).toEqual([250, 250, 250, 251]);
    expect([...generateEvents({ students: 2, eventsPerStudent: 0 })]).toEqual([]);
    expect([...generateEvents({ students: 1, eventsPerStudent: 1 })].map((e) => e.client.event)).toEqual(['document_history']);
  });

  test('events are well-formed, in the writing-observer envelope, ordered by server.time', () => {
    let prev = -Infinity;
    const kinds = new Map<string, number>();
    for (const e of generateEvents(small)) {
      expect(Object.keys(e)).toEqual(['client', 'metadata', 'server']);
      expect(e.client.source).toBe('org.mitros.writing_analytics');
      expect(typeof e.client.doc_id).toBe('string');
      expect((e.client.doc_id as string).length).toBe(44);
      expect(e.metadata.auth.safe_user_id).toMatch(/^gc-student-0[1-3]$/);
      expect(typeof e.server.time).toBe('number');
      expect(e.server.time).toBeGreaterThanOrEqual(prev);
      prev = e.server.time;
      kinds.set(e.client.event, (kinds.get(e.client.event) ?? 0) + 1);
      const c = e.client as any;
      switch (c.event) {
        case 'keystroke':
          expect(Object.keys(c.keystroke)).toEqual(expect.arrayContaining(['key', 'code', 'keyCode', 'type', 'timeStamp', 'shiftKey']));
          expect(c.object).toEqual({ type: expect.any(String), title: expect.any(String), id: c.doc_id, url: `https://docs.google.com/document/d/${c.doc_id}/edit` });
          break;
        case 'google_docs_save':
          expect(Array.isArray(c.bundles)).toBe(true);
          for (const b of c.bundles) expect(Object.keys(b)).toEqual(['commands', 'sid', 'reqId']);
          expect(typeof c.timestamp).toBe('number');
          break;
        case 'document_history':
          expect(Array.isArray(c.history.changelog)).toBe(true);
          for (const entry of c.history.changelog) expect(entry).toHaveLength(8);
          expect(typeof c.object.title).toBe('string');
          break;
        case 'visibility':
          expect(c.visibility.type).toBe('visibilitychange');
          break;
        default:
          throw new Error(`unexpected event type ${c.event}`);
      }
    }
    expect([...kinds.keys()].sort()).toEqual(['document_history', 'google_docs_save', 'keystroke', 'visibility']);
    expect(kinds.get('keystroke')!).toBeGreaterThan(kinds.get('google_docs_save')! * 3);
  });

  test('saves use is, ds and mlti; titles carry #tags; idle gaps over 60 s occur', () => {
    const types = new Set<string>();
    const walk = (cmd: any) => {
      types.add(cmd.ty);
      if (cmd.ty === 'mlti') cmd.mts.forEach(walk);
    };
    const last = new Map<string, number>();
    let gaps = 0;
    const titles = new Set<string>();
    for (const e of generateEvents({ students: 8, eventsPerStudent: 500, seed: 1 })) {
      const c = e.client as any;
      if (c.event === 'google_docs_save') for (const b of c.bundles) b.commands.forEach(walk);
      if (c.object) titles.add(c.object.title);
      const s = e.metadata.auth.safe_user_id;
      if (last.has(s) && e.server.time - last.get(s)! > 60) gaps++;
      last.set(s, e.server.time);
    }
    expect([...types].sort()).toEqual(['as', 'ds', 'is', 'mlti']);
    expect(gaps).toBeGreaterThanOrEqual(5);
    expect([...titles].some((t) => /#\w+/u.test(t))).toBe(true);
    expect([...titles].some((t) => t.includes('#français'))).toBe(true);
  });

  test('the commands of each document (after its last history) rebuild exactly the typed text', () => {
    const sims = createStudentSimulators(small);
    const texts = new Map<string, string>();
    for (const { event } of mergeByTime(sims.map((s) => s.events()))) {
      const c = event.client as any;
      if (c.event === 'document_history') {
        texts.set(c.doc_id, c.history.changelog.map((entry: any[]) => entry[0]).reduce(apply, ''));
      } else if (c.event === 'google_docs_save') {
        let text = texts.get(c.doc_id);
        expect(text).toBeDefined(); // a history always comes first (page load)
        for (const b of c.bundles) text = b.commands.reduce(apply, text);
        texts.set(c.doc_id, text!);
      }
    }
    const expected: Record<string, string> = {};
    for (const s of sims) Object.assign(expected, s.texts());
    expect(texts.size).toBeGreaterThan(3);
    for (const [doc, text] of texts) expect(text).toBe(expected[doc]);
    expect([...texts.values()].some((t) => t.length > 100)).toBe(true);
  });

  test('the reconstruct reducer rebuilds the generated text for every document', async () => {
    const options = { students: 2, docsPerStudent: 2, eventsPerStudent: 400, seed: 3 };
    const sims = createStudentSimulators(options);
    const events: SampleEvent[] = [];
    const owners = new Map<string, string>();
    for (const { event } of mergeByTime(sims.map((s) => s.events()))) {
      events.push(event);
      owners.set(event.client.doc_id as string, event.metadata.auth.safe_user_id);
    }
    const expected: Record<string, string> = {};
    for (const s of sims) Object.assign(expected, s.texts());
    const run = await runReducers(new WritingObserverModule(), events as any);
    for (const [doc, student] of owners) {
      const state = await run.external('reconstruct', { STUDENT: student, 'EventField.doc_id': doc });
      expect(visibleText(state as any)).toBe(expected[doc]);
    }
  });

  test('rejects bad options with a hint', () => {
    expect(() => resolveGenerateOptions({ students: 0 })).toThrow('students must be an integer >= 1, got 0');
    expect(() => resolveGenerateOptions({ totalEvents: 1.5 })).toThrow('totalEvents must be an integer >= 0, got 1.5');
    expect(resolveGenerateOptions()).toEqual({ ...SAMPLE_DEFAULTS, totalEvents: SAMPLE_DEFAULTS.students * SAMPLE_DEFAULTS.eventsPerStudent });
  });
});

describe('writeSampleLog', () => {
  test('writes JSON lines; gzip when the name ends in .gz; same seed gives byte-identical content', async () => {
    const opts = { students: 2, eventsPerStudent: 120, seed: 11 };
    const a = await writeSampleLog(path.join(dir, 'a.jsonl.gz'), opts);
    const b = await writeSampleLog(path.join(dir, 'b.jsonl'), opts);
    expect(a).toEqual({ path: path.join(dir, 'a.jsonl.gz'), events: 240, bytes: b.bytes, gzip: true });
    expect(b.gzip).toBe(false);
    const gz = fs.readFileSync(a.path);
    expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
    const text = zlib.gunzipSync(gz).toString('utf8');
    expect(text).toBe(fs.readFileSync(b.path, 'utf8'));
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual([...generateEvents(opts)]);
  });

  test('the shipped sample log is the generator output with the sample defaults, under 1 MB', async () => {
    const shipped = sampleLogPath();
    expect(fs.statSync(shipped).size).toBeLessThan(1024 * 1024);
    const again = await writeSampleLog(path.join(dir, 'again.jsonl'), SAMPLE_DEFAULTS);
    expect(zlib.gunzipSync(fs.readFileSync(shipped)).equals(fs.readFileSync(again.path))).toBe(true);
    expect(again.events).toBe(2400);
  });
});
