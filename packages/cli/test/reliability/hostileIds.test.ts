/**
 * Issue 7, point 9: hostile student and document ids go through the reducer pipeline on every
 * backend. No two different ids share a key, nothing is written outside the store folder, and
 * every state round-trips (read back through keys() and parseKey).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { EphemeralRedisKVS, FilesystemKVS, InMemoryKVS, PersistentRedisKVS, createRedisClient, type KVStore } from '@learning-observer/kvs';
import { describeWithRedis, startRedisServer, type RedisServerHandle } from '@learning-observer/kvs-test-suite';
import { EventField, KeyField, KeyStateType, ReducerPipeline, Scope, defineReducer, parseKey, type LOEvent, type ReducerError } from '@learning-observer/reducers';

const SOURCE = 'org.test.hostile';
const MODULE = 'test.hostile';

/** Ids chosen to break naive key building, file naming or Redis patterns. */
const HOSTILE: string[] = [
  'plain',
  'a,b',
  'a:b',
  'a%2Cb', // what 'a,b' would look like if escaped naively
  '%',
  '%25',
  'a/b',
  '/',
  '//',
  '..',
  '../..',
  '../../../../etc/passwd',
  'a/../../b',
  '.',
  '.hidden',
  'a\u0000b',
  '\u0000',
  'x'.repeat(5000),
  'x'.repeat(4999) + 'y',
  'ł'.repeat(2500),
  'łódź',
  '😀',
  '🇫🇷',
  'e\u0301', // e + combining accent
  '\u00e9', // precomposed é: a different id
  '\u202eevil', // right-to-left override
  '\ud800', // lone surrogates
  '\udc00',
  '\ufffd', // what a lone surrogate becomes if it is stored as UTF-8 without escaping
  ' ',
  '\t\n',
  '[guest]',
  '*',
  '?',
  '[a-z]',
  '\\',
  'STUDENT:x',
  'Internal,test.hostile.count,STUDENT:a',
  '-45-',
  '~abc',
  '_x',
  'x/y',
];

/** Per (student, doc): the number of events sent. */
function plan(): { events: LOEvent[]; expected: Map<string, number> } {
  const events: LOEvent[] = [];
  const expected = new Map<string, number>();
  HOSTILE.forEach((student, i) => {
    // Each student writes in three documents: a plain one, a hostile one, and another hostile one.
    const docs = ['doc', HOSTILE[(i + 7) % HOSTILE.length], HOSTILE[(i * 5 + 3) % HOSTILE.length]];
    docs.forEach((doc, d) => {
      const n = 1 + ((i + d) % 3);
      for (let k = 0; k < n; k++) {
        events.push({ client: { source: SOURCE, event: 'edit', doc_id: doc }, metadata: { auth: { safe_user_id: student } } });
        const id = JSON.stringify([student, doc]);
        expected.set(id, (expected.get(id) ?? 0) + 1);
      }
    });
  });
  return { events, expected };
}

/** Counts events per (student, doc) and records the ids it saw, so a shared key shows up as a mismatch. */
const counter = defineReducer(
  { module: MODULE, qualname: 'count', context: SOURCE, scope: new Scope([KeyField.STUDENT, new EventField('doc_id')]), nullState: null },
  (event: LOEvent, state: { student: string; doc: string; count: number } | null) => {
    const student = event.metadata!.auth!.safe_user_id as string;
    const doc = event.client.doc_id as string;
    if (state !== null && (state.student !== student || state.doc !== doc)) {
      throw new Error(`key shared by ${JSON.stringify([state.student, state.doc])} and ${JSON.stringify([student, doc])}`);
    }
    const next = { student, doc, count: (state?.count ?? 0) + 1 };
    return [next, { count: next.count }];
  },
);

/** Every file under `dir`, as absolute paths. */
function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

async function runAndCheck(store: KVStore): Promise<{ keys: number; events: number }> {
  const { events, expected } = plan();
  const pipeline = new ReducerPipeline({ modules: [counter], store, concurrency: 16 });
  const errors: ReducerError[] = [];
  pipeline.errors$.subscribe((e) => errors.push(e));
  const results = await lastValueFrom(pipeline.run(events).pipe(toArray()));
  expect(errors.map((e) => e.message)).toEqual([]);
  expect(results).toHaveLength(events.length);

  const keys = await store.keys();
  // Internal and external key per (student, doc), no more, no fewer: no two pairs share a key.
  expect(keys).toHaveLength(expected.size * 2);
  const seen = new Map<string, number>();
  for (const key of keys) {
    const parsed = parseKey(key);
    expect(parsed.reducerId).toBe(`${MODULE}.count`);
    const id = JSON.stringify([parsed.fields.STUDENT, parsed.fields['EventField.doc_id']]);
    expect([id, expected.has(id)]).toEqual([id, true]);
    const value = await store.get(key);
    if (parsed.stateType === KeyStateType.INTERNAL) {
      expect(value).toEqual({ student: parsed.fields.STUDENT, doc: parsed.fields['EventField.doc_id'], count: expected.get(id) });
      seen.set(id, (seen.get(id) ?? 0) + 1);
    } else {
      expect(value).toEqual({ count: expected.get(id) });
    }
  }
  expect(seen.size).toBe(expected.size);
  return { keys: keys.length, events: events.length };
}

test('the hostile id list really has distinct ids, and enough pairs', () => {
  expect(new Set(HOSTILE).size).toBe(HOSTILE.length);
  const { events, expected } = plan();
  expect(expected.size).toBeGreaterThan(100);
  expect(events.length).toBeGreaterThan(200);
});

test('memory: every (student, doc) pair has its own key and round-trips', async () => {
  await runAndCheck(new InMemoryKVS());
});

describe.each([false, true])('filesystem (subdirs: %s)', (subdirs) => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'lo-hostile-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('every pair has its own key, no file outside the store folder, and the store reopens with the same states', async () => {
    const storeDir = path.join(root, 'a', 'b', 'store');
    const store = new FilesystemKVS({ path: storeDir, subdirs });
    const { keys } = await runAndCheck(store);
    await store.close();

    const files = walk(root);
    const outside = files.filter((f) => !f.startsWith(storeDir + path.sep));
    expect(outside).toEqual([]);
    // One file per key: no temp or lock file left, no two keys in one file.
    expect(files).toHaveLength(keys);
    for (const f of files) expect(Buffer.byteLength(path.basename(f))).toBeLessThanOrEqual(255);

    const reopened = new FilesystemKVS({ path: storeDir, subdirs });
    await runAndCheckReadOnly(reopened, keys);
    await reopened.close();
  });
});

/** The reopened store lists the same keys and every value is consistent with its parsed key. */
async function runAndCheckReadOnly(store: KVStore, keyCount: number): Promise<void> {
  const { expected } = plan();
  const keys = await store.keys();
  expect(keys).toHaveLength(keyCount);
  for (const key of keys) {
    const { stateType, fields } = parseKey(key);
    const id = JSON.stringify([fields.STUDENT, fields['EventField.doc_id']]);
    const value = (await store.get(key)) as { count: number; student?: string; doc?: string };
    expect(value.count).toBe(expected.get(id));
    if (stateType === KeyStateType.INTERNAL) expect([value.student, value.doc]).toEqual([fields.STUDENT, fields['EventField.doc_id']]);
  }
}

describeWithRedis('redis (persistent and ephemeral, with and without prefix)', () => {
  let server: RedisServerHandle;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(() => server?.stop());

  test.each(['', 'lo:*[x]?:'])('prefix %j: every pair has its own key and round-trips', async (prefix) => {
    const logger = { warn: () => undefined };
    const store = new PersistentRedisKVS({ prefix, connection: { ...server.connection, db: prefix === '' ? 1 : 2 }, logger });
    const { keys } = await runAndCheck(store);
    await store.close();
    const reopened = new PersistentRedisKVS({ prefix, connection: { ...server.connection, db: prefix === '' ? 1 : 2 }, logger });
    await runAndCheckReadOnly(reopened, keys);
    await reopened.close();
  });

  test.each(['', 'lo:*[x]?:'])('redis_ephemeral, prefix %j: every pair has its own key, round-trips, and every key has the TTL', async (prefix) => {
    const expiry = 600;
    const connection = { ...server.connection, db: prefix === '' ? 3 : 4 };
    const store = new EphemeralRedisKVS({ expiry, prefix, connection });
    const { keys } = await runAndCheck(store);
    await store.close();
    const reopened = new EphemeralRedisKVS({ expiry, prefix, connection });
    await runAndCheckReadOnly(reopened, keys);
    await reopened.close();

    // The db holds exactly this store's keys, each with a TTL of at most `expiry` seconds.
    const raw = createRedisClient(connection);
    try {
      await raw.connect();
      const rawKeys = await raw.keysBuffer('*'); // Buffers: a key is not always valid UTF-8
      expect(rawKeys).toHaveLength(keys);
      const ttls = await Promise.all(rawKeys.map((k) => raw.ttl(k)));
      expect(ttls.filter((t) => !(t > 0 && t <= expiry))).toEqual([]);
    } finally {
      raw.disconnect();
    }
  });
});
