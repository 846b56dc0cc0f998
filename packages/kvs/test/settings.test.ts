import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { KVSError } from '../src/errors';
import { RESERVED_BACKEND_NAMES, StartupCheck, isLoadedSettings, loadSettings, type SettingsIssue } from '../src/settings';
import { registerBackendType, supportedBackendTypes, unregisterBackendType } from '../src/backendTypes';
import { InMemoryKVS } from '../src/backends/InMemoryKVS';

/** Runs `fn`, expects a StartupCheck, returns it. */
function startupCheck(fn: () => unknown): StartupCheck {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StartupCheck);
    expect(err).toBeInstanceOf(KVSError);
    return err as StartupCheck;
  }
  throw new Error('expected a StartupCheck, nothing was thrown');
}

const where = (issues: readonly SettingsIssue[]) => issues.map((i) => [i.entry, i.field]);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kvs-settings-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeYaml(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('loadSettings: valid input', () => {
  test('mapping form, defaults applied, order kept, deeply frozen', () => {
    const s = loadSettings({
      kvs: {
        default: { type: 'filesystem', path: '.lo_kvs' },
        cache: { type: 'redis_ephemeral', expiry: 30, prefix: 'cache:' },
        scratch: { type: 'stub' },
        durable: { type: 'redis', prefix: 'lo:' },
      },
      redis_connection: { host: 'redis.local', port: 6380, db: 2, password: 'pw', tls: { servername: 'redis.local' } },
      auth: { anything: 'other sections are ignored' },
    });
    expect(s.kvs).toEqual([
      { name: 'default', type: 'filesystem', path: '.lo_kvs', subdirs: false },
      { name: 'cache', type: 'redis_ephemeral', expiry: 30, prefix: 'cache:' },
      { name: 'scratch', type: 'stub' },
      { name: 'durable', type: 'redis', prefix: 'lo:' },
    ]);
    expect(s.redis_connection).toEqual({ host: 'redis.local', port: 6380, db: 2, password: 'pw', tls: { servername: 'redis.local' } });
    for (const url of ['redis://localhost', 'rediss://u:p@h:6380/3', 'redis://[::1]:6379/0']) {
      expect(loadSettings({ kvs: { default: { type: 'stub' } }, redis_connection: { url } }).redis_connection).toEqual({ url });
    }
    for (const url of ['localhost:6379', 'redis://h:6379/zero', 'http://h']) {
      expect(() => loadSettings({ kvs: { default: { type: 'stub' } }, redis_connection: { url } })).toThrow('redis_connection.url: must be a redis://');
    }
    expect(s.source).toBe('the settings object');
    expect(s.warnings).toEqual([]);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.kvs[0])).toBe(true);
    expect(isLoadedSettings(s)).toBe(true);
    expect(loadSettings(s)).toBe(s);
  });

  test('list-of-pairs form gives the same normalised list', () => {
    const s = loadSettings({
      kvs: [
        ['default', { type: 'stub' }],
        ['files', { type: 'filesystem', path: '/tmp/x', subdirs: true }],
      ],
    });
    expect(s.kvs).toEqual([
      { name: 'default', type: 'stub' },
      { name: 'files', type: 'filesystem', path: '/tmp/x', subdirs: true },
    ]);
    expect(s.redis_connection).toEqual({});
  });

  test('YAML file, mapping form and list form', () => {
    const mapping = writeYaml(
      'creds.yaml',
      ['# settings', 'kvs:', '  default:', '    type: filesystem', '    path: .lo_kvs', '    subdirs: true', '  cache:', '    type: redis_ephemeral', '    expiry: 30', 'redis_connection:', '  port: 6390', ''].join('\n'),
    );
    const s = loadSettings(mapping);
    expect(s.source).toBe(mapping);
    expect(s.kvs).toEqual([
      { name: 'default', type: 'filesystem', path: '.lo_kvs', subdirs: true },
      { name: 'cache', type: 'redis_ephemeral', expiry: 30 },
    ]);
    expect(s.redis_connection).toEqual({ port: 6390 });

    const list = writeYaml('list.yaml', 'kvs:\n  - [default, {type: stub}]\n  - [other, {type: redis, prefix: "o:"}]\n');
    expect(loadSettings(list).kvs).toEqual([
      { name: 'default', type: 'stub' },
      { name: 'other', type: 'redis', prefix: 'o:' },
    ]);
  });

  test('warns (does not fail) for every Redis backend without a prefix', () => {
    const s = loadSettings({
      kvs: {
        default: { type: 'redis' },
        cache: { type: 'redis_ephemeral', expiry: 5 },
        empty: { type: 'redis', prefix: '' },
        scoped: { type: 'redis', prefix: 'lo:' },
        files: { type: 'stub' },
      },
    });
    const noPrefix = s.warnings.filter((w) => w.message.includes('has no prefix'));
    expect(noPrefix.map((w) => w.path)).toEqual(['kvs.default.prefix', 'kvs.cache.prefix', 'kvs.empty.prefix']);
    expect(noPrefix[1]).toEqual({
      entry: 'cache',
      field: 'prefix',
      path: 'kvs.cache.prefix',
      message:
        'backend "cache" (type redis_ephemeral) has no prefix, so it sees every key of its Redis db, other programs\' included: ' +
        'keys() and dump() list them, and clear() refuses to run (it would delete them) unless called as clear({ wholeDatabase: true }). ' +
        'Add e.g. "prefix: cache:" under kvs.cache in creds.yaml; leave it out only to share keys with the Python original (which uses no prefix).',
    });
    expect(loadSettings({ kvs: { default: { type: 'redis', prefix: 'a:' } } }).warnings).toEqual([]);
  });

  test('warns (does not fail) when two Redis backends share a namespace', () => {
    const s = loadSettings({ kvs: { default: { type: 'redis' }, cache: { type: 'redis_ephemeral', expiry: 5, prefix: 'c:' }, other: { type: 'redis', prefix: 'x:' } } });
    expect(where(s.warnings)).toEqual([
      ['default', 'prefix'],
      ['cache', 'prefix'],
      ['other', 'prefix'],
    ]);
    expect(s.warnings[0].message).toContain('backend "default" (type redis) has no prefix');
    expect(s.warnings[1].message).toBe(
      'backends "default" (no prefix (the whole db)) and "cache" (prefix "c:") share Redis keys, so keys() on one lists the other\'s and clear() can empty both. ' +
        'Give each a distinct "prefix:" that does not start with the other\'s (e.g. "prefix: cache:") under kvs.cache in creds.yaml.',
    );
    const overlapping = loadSettings({ kvs: { default: { type: 'redis', prefix: 'lo:' }, sub: { type: 'redis', prefix: 'lo:x:' }, apart: { type: 'redis', prefix: 'other:' } } });
    expect(where(overlapping.warnings)).toEqual([['sub', 'prefix']]);
    expect(loadSettings({ kvs: { default: { type: 'redis', prefix: 'a:' }, b: { type: 'redis_ephemeral', expiry: 9, prefix: 'b:' } } }).warnings).toEqual([]);
  });
});

describe('loadSettings: StartupCheck cases', () => {
  test('missing expiry on redis_ephemeral', () => {
    const err = startupCheck(() => loadSettings({ kvs: { default: { type: 'redis_ephemeral' } } }));
    expect(err.issues).toEqual([
      {
        entry: 'default',
        field: 'expiry',
        path: 'kvs.default.expiry',
        message: 'backend "default" is type redis_ephemeral but has no "expiry" (seconds). Add e.g. "expiry: 30" under kvs.default in creds.yaml.',
      },
    ]);
    expect(err.message).toBe(
      'Invalid key-value store settings in the settings object (1 problem; fix each line below):\n' +
        '  kvs.default.expiry: backend "default" is type redis_ephemeral but has no "expiry" (seconds). Add e.g. "expiry: 30" under kvs.default in creds.yaml.',
    );
  });

  test('missing path on filesystem', () => {
    const err = startupCheck(() => loadSettings({ kvs: { default: { type: 'filesystem', subdirs: true } } }));
    expect(where(err.issues)).toEqual([['default', 'path']]);
    expect(err.message).toContain(
      'kvs.default.path: backend "default" is type filesystem but has no "path" (the folder that holds one JSON file per key). Add e.g. "path: .lo_kvs" under kvs.default in creds.yaml.',
    );
  });

  test('unknown type lists the supported types, with a suggestion when close', () => {
    const err = startupCheck(() => loadSettings({ kvs: { default: { type: 'mongo' }, cache: { type: 'redis-ephemeral', expiry: 3 } } }));
    expect(where(err.issues)).toEqual([
      ['default', 'type'],
      ['cache', 'type'],
    ]);
    expect(err.message).toContain(
      'kvs.default.type: unknown backend type "mongo". Supported types: stub, redis_ephemeral, redis, filesystem. Fix "type:" under kvs.default in creds.yaml',
    );
    expect(err.message).toContain('kvs.cache.type: unknown backend type "redis-ephemeral". Did you mean "redis_ephemeral"?');
  });

  test('missing type, and type that is not a string', () => {
    const err = startupCheck(() => loadSettings({ kvs: { default: { path: '/x' }, b: { type: 3 } } }));
    expect(err.message).toContain(
      'kvs.default.type: backend "default" has no "type". Add e.g. "type: filesystem" under kvs.default in creds.yaml (supported types: stub, redis_ephemeral, redis, filesystem).',
    );
    expect(err.message).toContain('kvs.b.type: must be a backend type name; got 3 (a number). Use one of: stub, redis_ephemeral, redis, filesystem');
  });

  test('no default entry names the configured ones', () => {
    const err = startupCheck(() => loadSettings({ kvs: { main: { type: 'stub' }, cache: { type: 'stub' } } }));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ entry: 'default', field: '', path: 'kvs.default' });
    expect(err.message).toContain('kvs.default: no backend is named "default" (configured: main, cache)');
    expect(err.message).toContain('Add a "default" entry under kvs in creds.yaml');
  });

  test('values of the wrong type', () => {
    const err = startupCheck(() =>
      loadSettings({
        kvs: {
          default: { type: 'filesystem', path: 42, subdirs: 'yes' },
          cache: { type: 'redis_ephemeral', expiry: 'abc' },
          short: { type: 'redis_ephemeral', expiry: 1.5 },
          neg: { type: 'redis_ephemeral', expiry: -3 },
          quoted: { type: 'redis_ephemeral', expiry: '30' },
          empty: { type: 'redis_ephemeral', expiry: null },
        },
        redis_connection: { port: '6379', db: -1, password: 1234, tls: 'on', url: 'http://x' },
      }),
    );
    expect(where(err.issues)).toEqual([
      ['default', 'path'],
      ['default', 'subdirs'],
      ['cache', 'expiry'],
      ['short', 'expiry'],
      ['neg', 'expiry'],
      ['quoted', 'expiry'],
      ['empty', 'expiry'],
      ['redis_connection', 'port'],
      ['redis_connection', 'password'],
      ['redis_connection', 'db'],
      ['redis_connection', 'url'],
      ['redis_connection', 'tls'],
    ]);
    const lines = err.message.split('\n');
    expect(lines).toHaveLength(13);
    expect(lines).toContain(
      '  kvs.default.path: must be a folder path (a non-empty string); got 42 (a number) (put it in quotes). Fix it under kvs.default in creds.yaml, e.g. "path: .lo_kvs".',
    );
    expect(lines).toContain('  kvs.default.subdirs: must be true or false; got "yes" (a string). Fix it under kvs.default in creds.yaml, e.g. "subdirs: true".');
    expect(lines).toContain(
      '  kvs.cache.expiry: must be a whole number of seconds greater than 0; got "abc" (a string). Fix it under kvs.cache in creds.yaml, e.g. "expiry: 30".',
    );
    expect(lines).toContain('  kvs.short.expiry: must be a whole number of seconds greater than 0; got 1.5 (a number). Fix it under kvs.short in creds.yaml, e.g. "expiry: 30".');
    expect(lines).toContain('  kvs.neg.expiry: must be a whole number of seconds greater than 0; got -3 (a number). Fix it under kvs.neg in creds.yaml, e.g. "expiry: 30".');
    expect(lines).toContain(
      '  kvs.quoted.expiry: must be a whole number of seconds greater than 0; got "30" (a string) (remove the quotes). Fix it under kvs.quoted in creds.yaml, e.g. "expiry: 30".',
    );
    expect(lines).toContain('  kvs.empty.expiry: must be a whole number of seconds greater than 0; got an empty value. Fix it under kvs.empty in creds.yaml, e.g. "expiry: 30".');
    expect(lines).toContain(
      '  redis_connection.port: must be a whole number from 1 to 65535; got "6379" (a string) (remove the quotes). Fix it under redis_connection in creds.yaml, e.g. "port: 6379".',
    );
    expect(lines).toContain('  redis_connection.password: must be a string; got 1234 (a number) (put it in quotes). Fix it under redis_connection in creds.yaml, e.g. "password: "s3cret"".');
    expect(lines).toContain('  redis_connection.db: must be a database number (a whole number, 0 or more); got -1 (a number). Fix it under redis_connection in creds.yaml, e.g. "db: 0".');
    expect(lines).toContain('  redis_connection.url: must be a redis:// or rediss:// URL (redis://[user:password@]host:port[/db]); got "http://x" (a string). Fix it under redis_connection in creds.yaml, e.g. "url: redis://localhost:6379/0".');
    expect(lines).toContain(
      '  redis_connection.tls: must be true, false, or a mapping of TLS options (ca, cert, key, servername...); got "on" (a string). Fix it under redis_connection in creds.yaml, e.g. "tls: true".',
    );
  });

  test('unknown fields in an entry and in redis_connection are errors, with suggestions', () => {
    const err = startupCheck(() =>
      loadSettings({ kvs: { default: { type: 'filesystem', path: '/x', subdir: true }, s: { type: 'stub', colour: 'red' } }, redis_connection: { hostname: 'h' } }),
    );
    expect(err.issues).toEqual([
      {
        entry: 'default',
        field: 'subdir',
        path: 'kvs.default.subdir',
        message: 'unknown field for type filesystem (allowed: path, subdirs). Did you mean "subdirs"? Rename or remove it under kvs.default in creds.yaml.',
      },
      { entry: 's', field: 'colour', path: 'kvs.s.colour', message: 'unknown field for type stub (allowed: none). Rename or remove it under kvs.s in creds.yaml.' },
      {
        entry: 'redis_connection',
        field: 'hostname',
        path: 'redis_connection.hostname',
        message:
          'unknown field for redis_connection (allowed: host, port, username, password, db, url, tls, connectTimeoutMs, commandTimeoutMs). Did you mean "host"? Rename or remove it under redis_connection in creds.yaml.',
      },
    ]);
  });

  test('missing, empty or malformed kvs block', () => {
    expect(startupCheck(() => loadSettings({ redis_connection: {} })).message).toContain(
      'kvs: missing: the settings have no "kvs" block, so there is nowhere to store state. Add e.g. "kvs: {default: {type: filesystem, path: .lo_kvs}}" to creds.yaml.',
    );
    for (const empty of [null, {}, []]) {
      const err = startupCheck(() => loadSettings({ kvs: empty }));
      expect(err.issues).toEqual([
        { entry: '', field: 'kvs', path: 'kvs', message: 'the "kvs" block is empty. Configure at least a "default" backend, e.g. "kvs: {default: {type: filesystem, path: .lo_kvs}}", in creds.yaml.' },
      ]);
    }
    expect(startupCheck(() => loadSettings({ kvs: 'stub' })).message).toContain(
      'kvs: must be a mapping of name -> {type, ...} or a list of [name, {type, ...}] pairs; got "stub" (a string).',
    );
    expect(startupCheck(() => loadSettings({ kvs: { default: 'stub' } })).message).toContain(
      'kvs.default: must be a mapping with a "type" field, e.g. "default: {type: filesystem, path: .lo_kvs}"; got "stub" (a string).',
    );
    expect(startupCheck(() => loadSettings(null)).message).toContain('the settings must be a mapping with a "kvs" block; got nothing (the file is empty).');
  });

  test('list form: duplicate names and malformed items', () => {
    const err = startupCheck(() =>
      loadSettings({
        kvs: [
          ['default', { type: 'stub' }],
          ['cache', { type: 'stub' }],
          ['default', { type: 'filesystem', path: '/x' }],
          { name: 'x', type: 'stub' },
          ['lonely'],
        ],
      }),
    );
    expect(err.issues.map((i) => i.path)).toEqual(['kvs.default', 'kvs[3]', 'kvs[4]']);
    expect(err.message).toContain(
      'kvs.default: the name "default" is used by list items 0 and 2. Backend names must be unique; rename or remove one of them in creds.yaml.',
    );
    expect(err.message).toContain('kvs[3]: each list item must be a pair [name, {type, ...}]; got a mapping. Write it as e.g. "- [default, {type: stub}]" in creds.yaml');
    expect(err.message).toContain('kvs[4]: each list item must be a pair [name, {type, ...}]; got a list.');
  });

  test('reserved names are refused', () => {
    expect(RESERVED_BACKEND_NAMES).toEqual(expect.arrayContaining(['name', 'length', 'call', 'apply', 'bind', 'then', 'toString', 'constructor', 'prototype']));
    const err = startupCheck(() => loadSettings({ kvs: { default: { type: 'stub' }, then: { type: 'stub' } } }));
    expect(err.message).toContain(
      'kvs.then: "then" cannot be a backend name: KVS.then is already a property of every JavaScript function. Rename the entry (e.g. "then_store") in creds.yaml.',
    );
  });

  test('every problem is reported at once, one line each', () => {
    const err = startupCheck(() =>
      loadSettings({
        kvs: {
          cache: { type: 'redis_ephemeral' },
          files: { type: 'filesystem' },
          odd: { type: 'mongo' },
          typeless: {},
          bad: { type: 'redis', maxRetries: 'many' },
        },
        redis_connection: { port: 'x' },
      }),
    );
    expect(where(err.issues)).toEqual([
      ['cache', 'expiry'],
      ['files', 'path'],
      ['odd', 'type'],
      ['typeless', 'type'],
      ['bad', 'maxRetries'],
      ['default', ''],
      ['redis_connection', 'port'],
    ]);
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('Invalid key-value store settings in the settings object (7 problems; fix each line below):');
    expect(lines.slice(1).map((l) => l.split(': ')[0])).toEqual([
      '  kvs.cache.expiry',
      '  kvs.files.path',
      '  kvs.odd.type',
      '  kvs.typeless.type',
      '  kvs.bad.maxRetries',
      '  kvs.default',
      '  redis_connection.port',
    ]);
  });

  test('the source option names the file in messages', () => {
    const err = startupCheck(() => loadSettings({ kvs: { default: { type: 'filesystem' } } }, { source: 'settings.yaml' }));
    expect(err.source).toBe('settings.yaml');
    expect(err.message).toContain('Add e.g. "path: .lo_kvs" under kvs.default in settings.yaml.');
  });
});

describe('loadSettings: files', () => {
  test('problems in a YAML file name the file', () => {
    const file = writeYaml('bad.yaml', 'kvs:\n  default:\n    type: redis_ephemeral\n');
    const err = startupCheck(() => loadSettings(file));
    expect(err.source).toBe(file);
    expect(err.message).toBe(
      `Invalid key-value store settings in ${file} (1 problem; fix each line below):\n` +
        '  kvs.default.expiry: backend "default" is type redis_ephemeral but has no "expiry" (seconds). Add e.g. "expiry: 30" under kvs.default in bad.yaml.',
    );
  });

  test('the repository\'s creds.example.yaml is valid, and so is its commented-out Redis alternative', () => {
    const example = join(__dirname, '..', '..', '..', 'creds.example.yaml');
    expect(loadSettings(example).kvs).toEqual([
      { name: 'default', type: 'filesystem', path: '.lo_kvs', subdirs: false },
      { name: 'scratch', type: 'stub' },
    ]);
    // Uncomment the Redis lines (drop the first "# " of indented commented YAML) and drop the filesystem default.
    const text = readFileSync(example, 'utf8');
    const withoutFsDefault = text.replace(/^  default:\n(?: {4}.*\n)+/m, '');
    const uncommented = withoutFsDefault
      .split('\n')
      .map((line) => line.replace(/^( *)# (?=[a-z_]+:|  )/, '$1'))
      .join('\n');
    const redis = loadSettings(writeYaml('uncommented.yaml', uncommented));
    expect(redis.kvs).toEqual([
      { name: 'scratch', type: 'stub' },
      { name: 'default', type: 'redis', prefix: 'lo:' },
      { name: 'cache', type: 'redis_ephemeral', expiry: 30, prefix: 'lo-cache:' },
    ]);
    expect(redis.redis_connection).toEqual({ host: 'localhost', port: 6379, db: 0, password: 'change-me', connectTimeoutMs: 3000, commandTimeoutMs: 5000 });
    expect(redis.warnings).toEqual([]);
  });

  test('malformed YAML names the file, line and column', () => {
    const file = writeYaml('broken.yaml', 'kvs:\n  default: {type: stub\n  cache:\n    type: stub\n');
    const err = startupCheck(() => loadSettings(file));
    expect(err.issues.length).toBeGreaterThanOrEqual(1);
    expect(err.issues[0].path).toMatch(/^broken\.yaml:\d+:\d+$/);
    expect(err.issues[0].message).toMatch(/^malformed YAML at line \d+, column \d+: .+\. Fix the syntax in .*broken\.yaml\.$/);
    expect(err.message).toContain(file);

    const tabs = writeYaml('tabs.yaml', 'kvs:\n\tdefault: {type: stub}\n');
    const tabErr = startupCheck(() => loadSettings(tabs));
    expect(tabErr.issues[0].path).toBe('tabs.yaml:2:1');
    expect(tabErr.issues[0].message).toBe(`malformed YAML at line 2, column 1: Tabs are not allowed as indentation. Fix the syntax in ${tabs}.`);
  });

  test('a name written twice in the mapping form is reported with its line', () => {
    const file = writeYaml('dup.yaml', 'kvs:\n  default:\n    type: stub\n  default:\n    type: stub\n');
    const err = startupCheck(() => loadSettings(file));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0].path).toBe('dup.yaml:4:3');
    expect(err.issues[0].message).toBe(
      `malformed YAML at line 4, column 3: Map keys must be unique (a name is written twice; rename or remove one). Fix the syntax in ${file}.`,
    );
  });

  test('missing file and empty file', () => {
    const missing = join(dir, 'nope.yaml');
    expect(startupCheck(() => loadSettings(missing)).message).toContain(`${missing}: cannot read the settings file: the file does not exist.`);
    const empty = writeYaml('empty.yaml', '# nothing here\n');
    expect(startupCheck(() => loadSettings(empty)).message).toContain(
      'empty.yaml: the settings must be a mapping with a "kvs" block; got nothing (the file is empty). Add e.g. "kvs: {default: {type: filesystem, path: .lo_kvs}}" to empty.yaml.',
    );
  });
});

describe('custom backend types in settings', () => {
  afterEach(() => {
    unregisterBackendType('seeded');
  });

  test('a registered type is accepted, validated with its schema and listed as supported', () => {
    registerBackendType('seeded', {
      className: 'InMemoryKVS',
      schema: z.object({ size: z.number().int(), label: z.string().optional() }),
      create: () => new InMemoryKVS(),
    });
    expect(supportedBackendTypes()).toEqual(['stub', 'redis_ephemeral', 'redis', 'filesystem', 'seeded']);
    expect(loadSettings({ kvs: { default: { type: 'seeded', size: 3 } } }).kvs).toEqual([{ name: 'default', type: 'seeded', size: 3 }]);

    const err = startupCheck(() => loadSettings({ kvs: { default: { type: 'seeded', label: 5, extra: 1 }, x: { type: 'nope' } } }));
    expect(err.message).toContain('kvs.default.extra: unknown field for type seeded (allowed: size, label).');
    expect(err.message).toContain('kvs.default.size: backend "default" is type seeded but has no "size". Add "size: ..." under kvs.default in creds.yaml.');
    expect(err.message).toContain('kvs.default.label: expected string, received number; got 5 (a number) (put it in quotes). Fix it under kvs.default in creds.yaml.');
    expect(err.message).toContain('Supported types: stub, redis_ephemeral, redis, filesystem, seeded.');
  });
});
