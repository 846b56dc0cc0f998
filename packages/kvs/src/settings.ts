import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { describeField, fieldHelpOf, getBackendType, supportedBackendTypes } from './backendTypes';
import { KVSError } from './errors';
import { RUNTIME_PROBED_NAMES } from './isStoreMember';
import type { RedisConnectionSettings } from './redisConnection';

/** One problem (or warning) found in the settings. */
export interface SettingsIssue {
  /** Backend name (`default`, `cache`...), `redis_connection`, or `''` for the file / top level. */
  readonly entry: string;
  /** Field inside the entry (`type`, `expiry`, `port`...), or `''` when the whole entry is meant. */
  readonly field: string;
  /** Where it is, as written at the start of its message line: `kvs.default.expiry`, `redis_connection.port`, `creds.yaml:3:7`. */
  readonly path: string;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

/**
 * The settings are unusable. `issues` lists every problem found (not only the first); the message
 * has one line per problem, each naming the entry, the field and the fix.
 *
 * @example
 * try {
 *   loadSettings({ kvs: { default: { type: 'redis_ephemeral' } } });
 * } catch (err) {
 *   if (err instanceof StartupCheck) console.error(err.message);
 *   // kvs.default.expiry: backend "default" is type redis_ephemeral but has no "expiry" (seconds). Add e.g. "expiry: 30" under kvs.default in creds.yaml.
 * }
 */
export class StartupCheck extends KVSError {
  constructor(
    readonly issues: readonly SettingsIssue[],
    /** The settings file (absolute path), or a label for an object. */
    readonly source: string,
  ) {
    super(
      `Invalid key-value store settings in ${source} (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}; fix each line below):\n` +
        issues.map((i) => `  ${i.path}: ${i.message}`).join('\n'),
    );
  }
}

/**
 * A validated backend entry: its `name`, its `type` and the fields its type's schema produced
 * (defaults applied, e.g. `subdirs: false`).
 */
export interface BackendConfig {
  readonly name: string;
  readonly type: string;
  readonly [field: string]: unknown;
}

/** Validated, normalised settings, as returned by {@link loadSettings} (deeply frozen). */
export interface Settings {
  /** Backends in the order they were written (the mapping and list forms both end up here). */
  readonly kvs: readonly BackendConfig[];
  /** The `redis_connection` block (`{}` when absent: localhost:6379, db 0). */
  readonly redis_connection: Readonly<RedisConnectionSettings>;
  /** The settings file's absolute path, or the label of an object. */
  readonly source: string;
  /** Things that work but are probably mistakes (e.g. two Redis backends sharing one namespace). */
  readonly warnings: readonly SettingsIssue[];
}

/** Options of {@link loadSettings}. */
export interface LoadSettingsOptions {
  /**
   * The file name messages tell the user to edit when settings come from an object
   * (default `creds.yaml`). Files use their own name.
   */
  source?: string;
}

/** `redis://[user:password@]host[:port][/db]` or `rediss://...`, with a numeric db when given. */
function isRedisUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === 'redis:' || url.protocol === 'rediss:') && /^\/?\d*$/.test(url.pathname);
}

/** Schema of the top-level `redis_connection` block. Unknown fields are reported by `loadSettings`. */
export const redisConnectionSchema = z.object({
  host: describeField(z.string().min(1).optional(), { expected: 'a host name or IP address', example: 'host: localhost' }),
  port: describeField(z.number().int().min(1).max(65535).optional(), { expected: 'a whole number from 1 to 65535', example: 'port: 6379' }),
  username: describeField(z.string().optional(), { expected: 'a string (the ACL user name)', example: 'username: default' }),
  password: describeField(z.string().optional(), { expected: 'a string', example: 'password: "s3cret"' }),
  db: describeField(z.number().int().min(0).optional(), { expected: 'a database number (a whole number, 0 or more)', example: 'db: 0' }),
  url: describeField(
    z
      .string()
      .refine(isRedisUrl, { message: 'must be a redis:// or rediss:// URL' })
      .optional(),
    { expected: 'a redis:// or rediss:// URL (redis://[user:password@]host:port[/db])', example: 'url: redis://localhost:6379/0' },
  ),
  tls: describeField(z.union([z.boolean(), z.record(z.string(), z.unknown())]).optional(), {
    expected: 'true, false, or a mapping of TLS options (ca, cert, key, servername...)',
    example: 'tls: true',
  }),
  connectTimeoutMs: describeField(z.number().int().positive().optional(), {
    expected: 'a whole number of milliseconds greater than 0',
    example: 'connectTimeoutMs: 5000',
  }),
  commandTimeoutMs: describeField(z.number().int().positive().optional(), {
    expected: 'a whole number of milliseconds greater than 0',
    example: 'commandTimeoutMs: 5000',
  }),
});

/**
 * Names a backend cannot have, because `KVS.<name>` is a property every JavaScript function or
 * promise-like object already has (`name`, `length`, `call`, `bind`, `then`, `toString`...).
 */
export const RESERVED_BACKEND_NAMES: readonly string[] = Object.freeze(
  [
    ...new Set([
      ...Object.getOwnPropertyNames(Function.prototype),
      ...Object.getOwnPropertyNames(Object.prototype),
      'prototype',
      ...RUNTIME_PROBED_NAMES,
    ]),
  ].sort(),
);

const validated = new WeakSet<object>();

/**
 * Whether `value` came out of {@link loadSettings} (so it need not be validated again).
 *
 * @example
 * isLoadedSettings(loadSettings('creds.yaml')); // true
 * isLoadedSettings({ kvs: { default: { type: 'stub' } } }); // false
 */
export function isLoadedSettings(value: unknown): value is Settings {
  return typeof value === 'object' && value !== null && validated.has(value);
}

/**
 * Reads and validates settings: a YAML file path (`creds.yaml`) or an already-parsed object.
 * Returns the normalised {@link Settings}; throws {@link StartupCheck} listing every problem.
 * Top-level sections other than `kvs` and `redis_connection` are ignored (the file may hold other
 * settings).
 *
 * `kvs` is a mapping `name -> {type, ...}` or a list of `[name, {type, ...}]` pairs; a `default`
 * entry is required. Unknown fields in an entry or in `redis_connection` are errors (a typo such as
 * `subdir: true` must not be silently ignored).
 *
 * @example
 * const settings = loadSettings({
 *   kvs: { default: { type: 'filesystem', path: '.lo_kvs' }, cache: { type: 'redis_ephemeral', expiry: 30 } },
 *   redis_connection: { host: 'localhost', port: 6379 },
 * });
 * settings.kvs.map((b) => b.name); // ['default', 'cache']
 */
export function loadSettings(pathOrObject: unknown, options: LoadSettingsOptions = {}): Settings {
  if (isLoadedSettings(pathOrObject)) return pathOrObject;
  if (typeof pathOrObject === 'string') {
    const file = resolve(pathOrObject);
    return validateSettings(readYamlFile(file), file, basename(file));
  }
  const label = options.source ?? 'creds.yaml';
  return validateSettings(pathOrObject, options.source ?? 'the settings object', label);
}

/** Reads a YAML file, turning read and syntax errors into a StartupCheck naming file, line and column. */
function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'the file does not exist' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw new StartupCheck(
      [{ entry: '', field: '', path: file, message: `cannot read the settings file: ${why}. Check the path, or copy creds.example.yaml there and edit it.` }],
      file,
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e): SettingsIssue => {
      const pos = e.linePos?.[0];
      const what = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      const detail = e.code === 'DUPLICATE_KEY' ? `${what} (a name is written twice; rename or remove one)` : what;
      return {
        entry: '',
        field: '',
        path: pos ? `${basename(file)}:${pos.line}:${pos.col}` : basename(file),
        message: `malformed YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${detail}. Fix the syntax in ${file}.`,
      };
    });
    throw new StartupCheck(issues, file);
  }
  return doc.toJS();
}

/** Describes a settings value for a message: `"abc" (a string)`, `5 (a number)`, `a list`... */
function show(value: unknown): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string': {
      const s = value.length > 60 ? value.slice(0, 57) + '...' : value;
      return `${JSON.stringify(s)} (a string)`;
    }
    case 'number':
      return `${value} (a number)`;
    case 'boolean':
      return `${value} (a boolean)`;
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/** Edit distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_ ]/g, '');
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const [a, b] = [norm(word), norm(c)];
    const score = a === b ? 0 : Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a)) ? 1 : distance(word.toLowerCase(), c.toLowerCase());
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best !== undefined && bestScore <= Math.max(1, Math.min(2, Math.floor(word.length / 3))) ? best : undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function getAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Collects issues while validating. */
class IssueList {
  readonly items: SettingsIssue[] = [];
  constructor(readonly file: string) {}

  add(entry: string, field: string, path: string, message: string): void {
    this.items.push({ entry, field, path, message });
  }

  /**
   * Turns the zod issues of one block (a backend entry's fields, or `redis_connection`) into
   * messages that say what to write.
   */
  addZodIssues(
    issues: readonly z.core.$ZodIssue[],
    input: Record<string, unknown>,
    shape: Record<string, unknown>,
    block: { entry: string; base: string; where: string; missing: (field: string) => string },
  ): void {
    for (const issue of issues) {
      const field = issue.path.length > 0 ? String(issue.path[0]) : '';
      const path = [block.base, ...issue.path.map(String)].join('.');
      const value = getAt(input, issue.path);
      if (value === undefined && issue.path.length === 1 && issue.code === 'invalid_type') {
        this.add(block.entry, field, path, block.missing(field));
        continue;
      }
      const help = issue.path.length === 1 ? fieldHelpOf(shape[field]) : undefined;
      const expected = help ? `must be ${help.expected}` : issue.message.replace(/^Invalid input: /, '');
      let hint = '';
      const wantsNumber = issue.code === 'invalid_type' && (issue.expected === 'number' || issue.expected === 'int');
      if (wantsNumber && typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) hint = ' (remove the quotes)';
      if (issue.code === 'invalid_type' && issue.expected === 'string' && typeof value === 'number') hint = ' (put it in quotes)';
      const example = help ? `, e.g. "${help.example}"` : '';
      this.add(block.entry, field, path, `${expected}; got ${show(value)}${hint}. Fix it under ${block.where} in ${this.file}${example}.`);
    }
  }

  unknownFields(
    input: Record<string, unknown>,
    allowed: readonly string[],
    block: { entry: string; base: string; where: string; kind: string },
  ): Record<string, unknown> {
    const kept: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input)) {
      if (allowed.includes(key)) {
        kept[key] = value;
        continue;
      }
      const guess = closest(key, allowed);
      const list = allowed.length > 0 ? allowed.join(', ') : 'none';
      this.add(
        block.entry,
        key,
        `${block.base}.${key}`,
        `unknown field for ${block.kind} (allowed: ${list}).${guess ? ` Did you mean "${guess}"?` : ''} Rename or remove it under ${block.where} in ${this.file}.`,
      );
    }
    return kept;
  }
}

/** Turns `kvs` (mapping or list of pairs) into ordered `[name, entry, path]` triples, reporting shape problems. */
function normaliseKvs(kvs: unknown, issues: IssueList): [string, unknown][] {
  const example = `"kvs: {default: {type: filesystem, path: .lo_kvs}}"`;
  if (kvs === undefined) {
    issues.add('', 'kvs', 'kvs', `missing: the settings have no "kvs" block, so there is nowhere to store state. Add e.g. ${example} to ${issues.file}.`);
    return [];
  }
  if (kvs === null || (Array.isArray(kvs) && kvs.length === 0) || (isPlainObject(kvs) && Object.keys(kvs).length === 0)) {
    issues.add('', 'kvs', 'kvs', `the "kvs" block is empty. Configure at least a "default" backend, e.g. ${example}, in ${issues.file}.`);
    return [];
  }
  if (isPlainObject(kvs)) return Object.entries(kvs);
  if (!Array.isArray(kvs)) {
    issues.add(
      '',
      'kvs',
      'kvs',
      `must be a mapping of name -> {type, ...} or a list of [name, {type, ...}] pairs; got ${show(kvs)}. Fix it in ${issues.file}, e.g. ${example}.`,
    );
    return [];
  }
  const out: [string, unknown][] = [];
  const firstIndex = new Map<string, number>();
  kvs.forEach((item, i) => {
    const at = `kvs[${i}]`;
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string') {
      issues.add(
        `[${i}]`,
        '',
        at,
        `each list item must be a pair [name, {type, ...}]; got ${show(item)}. Write it as e.g. "- [default, {type: stub}]" in ${issues.file}, or use the mapping form.`,
      );
      return;
    }
    const name = item[0];
    const seen = firstIndex.get(name);
    if (seen !== undefined) {
      issues.add(
        name,
        '',
        `kvs.${name}`,
        `the name "${name}" is used by list items ${seen} and ${i}. Backend names must be unique; rename or remove one of them in ${issues.file}.`,
      );
      return;
    }
    firstIndex.set(name, i);
    out.push([name, item[1]]);
  });
  return out;
}

/** Validates one backend entry; returns the normalised config or undefined when it has problems. */
function validateEntry(name: string, raw: unknown, issues: IssueList): BackendConfig | undefined {
  const base = `kvs.${name}`;
  const types = supportedBackendTypes();
  const typeList = types.join(', ');
  if (name.length === 0) {
    issues.add(name, '', 'kvs.""', `backend names must not be empty. Give the entry a name (e.g. "default") in ${issues.file}.`);
    return undefined;
  }
  if (RESERVED_BACKEND_NAMES.includes(name)) {
    issues.add(
      name,
      '',
      base,
      `"${name}" cannot be a backend name: KVS.${name} is already a property of every JavaScript function. Rename the entry (e.g. "${name}_store") in ${issues.file}.`,
    );
    return undefined;
  }
  if (!isPlainObject(raw)) {
    issues.add(
      name,
      '',
      base,
      `must be a mapping with a "type" field, e.g. "${name}: {type: filesystem, path: .lo_kvs}"; got ${show(raw)}. Fix it in ${issues.file}.`,
    );
    return undefined;
  }
  const type = raw.type;
  if (type === undefined) {
    issues.add(name, 'type', `${base}.type`, `backend "${name}" has no "type". Add e.g. "type: filesystem" under ${base} in ${issues.file} (supported types: ${typeList}).`);
    return undefined;
  }
  if (typeof type !== 'string') {
    issues.add(name, 'type', `${base}.type`, `must be a backend type name; got ${show(type)}. Use one of: ${typeList} (under ${base} in ${issues.file}).`);
    return undefined;
  }
  const def = getBackendType(type);
  if (!def) {
    const guess = closest(type, types);
    issues.add(
      name,
      'type',
      `${base}.type`,
      `unknown backend type "${type}".${guess ? ` Did you mean "${guess}"?` : ''} Supported types: ${typeList}. Fix "type:" under ${base} in ${issues.file}` +
        `, or register the type with registerBackendType() before loading the settings.`,
    );
    return undefined;
  }
  const shape = def.schema.shape as Record<string, unknown>;
  const fields = { ...raw };
  delete fields.type;
  const before = issues.items.length;
  const known = issues.unknownFields(fields, Object.keys(shape), { entry: name, base, where: base, kind: `type ${type}` });
  const parsed = def.schema.safeParse(known);
  if (!parsed.success) {
    issues.addZodIssues(parsed.error.issues, known, shape, {
      entry: name,
      base,
      where: base,
      missing: (field) => {
        const help = fieldHelpOf(shape[field]);
        const what = help?.what ? ` (${help.what})` : '';
        const add = help ? `e.g. "${help.example}"` : `"${field}: ..."`;
        return `backend "${name}" is type ${type} but has no "${field}"${what}. Add ${add} under ${base} in ${issues.file}.`;
      },
    });
  }
  if (!parsed.success || issues.items.length > before) return undefined;
  return { ...(parsed.data as Record<string, unknown>), name, type };
}

function validateRedisConnection(raw: unknown, issues: IssueList): RedisConnectionSettings {
  if (raw === undefined || raw === null) return {};
  const base = 'redis_connection';
  if (!isPlainObject(raw)) {
    issues.add(base, '', base, `must be a mapping of connection settings (host, port, password, db...); got ${show(raw)}. Fix it in ${issues.file}, e.g. "redis_connection: {host: localhost, port: 6379}".`);
    return {};
  }
  const shape = redisConnectionSchema.shape as Record<string, unknown>;
  const known = issues.unknownFields(raw, Object.keys(shape), { entry: base, base, where: base, kind: 'redis_connection' });
  const parsed = redisConnectionSchema.safeParse(known);
  if (!parsed.success) {
    issues.addZodIssues(parsed.error.issues, known, shape, {
      entry: base,
      base,
      where: base,
      missing: (field) => `"${field}" is missing. Add it under ${base} in ${issues.file}.`,
    });
    return {};
  }
  return Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined)) as RedisConnectionSettings;
}

/**
 * Warnings: settings that work but probably do not do what was meant.
 *
 * - A Redis backend without a prefix (or with `prefix: ""`) sees every key of its db: `keys()`
 *   and `dump()` list other programs' keys, and `clear()` refuses to run without
 *   `{ wholeDatabase: true }`.
 * - Two Redis backends whose prefixes overlap (equal, or one starting with the other; no prefix
 *   means the whole db) see each other's keys, and `clear()` on the shorter one empties the other.
 */
function findWarnings(kvs: readonly BackendConfig[], file: string): SettingsIssue[] {
  const warnings: SettingsIssue[] = [];
  const seen: { name: string; prefix: string }[] = [];
  for (const b of kvs) {
    if (b.type !== 'redis' && b.type !== 'redis_ephemeral') continue;
    const prefix = typeof b.prefix === 'string' ? b.prefix : '';
    if (prefix === '') {
      warnings.push({
        entry: b.name,
        field: 'prefix',
        path: `kvs.${b.name}.prefix`,
        message:
          `backend "${b.name}" (type ${b.type}) has no prefix, so it sees every key of its Redis db, other programs' included: ` +
          `keys() and dump() list them, and clear() refuses to run (it would delete them) unless called as clear({ wholeDatabase: true }). ` +
          `Add e.g. "prefix: ${b.name}:" under kvs.${b.name} in ${file}; leave it out only to share keys with the Python original (which uses no prefix).`,
      });
    }
    const other = seen.find((o) => o.prefix.startsWith(prefix) || prefix.startsWith(o.prefix));
    seen.push({ name: b.name, prefix });
    if (!other) continue;
    const describe = (p: string) => (p === '' ? 'no prefix (the whole db)' : `prefix ${JSON.stringify(p)}`);
    warnings.push({
      entry: b.name,
      field: 'prefix',
      path: `kvs.${b.name}.prefix`,
      message:
        `backends "${other.name}" (${describe(other.prefix)}) and "${b.name}" (${describe(prefix)}) share Redis keys, so keys() on one lists the other's ` +
        `and clear() can empty both. Give each a distinct "prefix:" that does not start with the other's (e.g. "prefix: ${b.name}:") under kvs.${b.name} in ${file}.`,
    });
  }
  return warnings;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function validateSettings(data: unknown, source: string, file: string): Settings {
  const issues = new IssueList(file);
  if (!isPlainObject(data)) {
    const got = data === null || data === undefined ? 'nothing (the file is empty)' : show(data);
    issues.add('', '', file, `the settings must be a mapping with a "kvs" block; got ${got}. Add e.g. "kvs: {default: {type: filesystem, path: .lo_kvs}}" to ${file}.`);
    throw new StartupCheck(issues.items, source);
  }
  const entries = normaliseKvs(data.kvs, issues);
  const kvs: BackendConfig[] = [];
  for (const [name, raw] of entries) {
    const config = validateEntry(name, raw, issues);
    if (config) kvs.push(config);
  }
  if (entries.length > 0 && !entries.some(([name]) => name === 'default')) {
    const names = entries.map(([name]) => name).join(', ');
    issues.add(
      'default',
      '',
      'kvs.default',
      `no backend is named "default" (configured: ${names}); KVS() and reducers without a backend use it. ` +
        `Add a "default" entry under kvs in ${file}, e.g. "default: {type: filesystem, path: .lo_kvs}", or rename one of yours to "default".`,
    );
  }
  const redisConnection = validateRedisConnection(data.redis_connection, issues);
  if (issues.items.length > 0) throw new StartupCheck(issues.items, source);
  const settings: Settings = { kvs, redis_connection: redisConnection, source, warnings: findWarnings(kvs, file) };
  deepFreeze(settings);
  validated.add(settings);
  return settings;
}
