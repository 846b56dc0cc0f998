import type { LOEvent } from '../events';
import type { BadLineReason } from './types';

/** Result of {@link parseLogLine}: an event, nothing (blank line), or why the line is bad. */
export type ParsedLogLine =
  | { kind: 'event'; event: LOEvent; loggedAt?: string }
  | { kind: 'blank' }
  | { kind: 'bad'; reason: BadLineReason; message: string; excerpt: string };

const STUDY_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The first 80 characters of a line, control characters shown as `\uHHHH` (hex digits).
 * @example
 * ```ts
 * lineExcerpt('a\u0000b'); // 'a\\u0000b'
 * ```
 */
export function lineExcerpt(text: string): string {
  const head = text.length > 80 ? text.slice(0, 80) + '…' : text;
  return head.replace(/[\u0000-\u001f\u007f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks the envelope fields the framework reads. Returns a message for the first field of the
 * wrong type, or `undefined` when the event is usable.
 *
 * @example
 * ```ts
 * checkEventShape({ client: {}, server: { time: 'x' } }); // 'server.time is a string, expected a number of seconds'
 * ```
 */
export function checkEventShape(event: Record<string, unknown>): string | undefined {
  const client = event.client;
  if (!isPlainObject(client)) return undefined; // reported as missing-client by the caller
  for (const f of ['event', 'source'] as const) {
    if (client[f] !== undefined && typeof client[f] !== 'string') return `client.${f} is ${typeName(client[f])}, expected a string`;
  }
  const server = event.server;
  if (server !== undefined && server !== null) {
    if (!isPlainObject(server)) return `server is ${typeName(server)}, expected an object`;
    const time = server.time;
    if (time !== undefined && (typeof time !== 'number' || !Number.isFinite(time))) {
      return `server.time is ${typeName(time)}, expected a number of seconds`;
    }
  }
  const metadata = event.metadata;
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata)) return `metadata is ${typeName(metadata)}, expected an object`;
    const auth = metadata.auth;
    if (auth !== undefined && auth !== null) {
      if (!isPlainObject(auth)) return `metadata.auth is ${typeName(auth)}, expected an object`;
      const id = auth.safe_user_id;
      if (typeof id === 'object' && id !== null) return `metadata.auth.safe_user_id is ${typeName(id)}, expected a string`;
    }
  }
  return undefined;
}

/**
 * Parses one log line (bytes without the line break): a JSON event, optionally followed by a tab
 * and an ISO timestamp (the original's `.study.log` lines). Never throws; a bad line comes back
 * with its reason.
 *
 * @example
 * ```ts
 * parseLogLine(Buffer.from('{"client":{"event":"x"}}\t2024-01-02T03:04:05.123456'));
 * // { kind: 'event', event: { client: { event: 'x' } }, loggedAt: '2024-01-02T03:04:05.123456' }
 * ```
 */
export function parseLogLine(bytes: Buffer): ParsedLogLine {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { kind: 'bad', reason: 'invalid-utf8', message: 'the line is not valid UTF-8', excerpt: lineExcerpt(bytes.toString('latin1')) };
  }
  if (text.trim() === '') return { kind: 'blank' };
  if (text.includes('\u0000')) {
    return { kind: 'bad', reason: 'nul-byte', message: `the line contains a NUL byte at character ${text.indexOf('\u0000') + 1}`, excerpt: lineExcerpt(text) };
  }
  let json = text;
  let loggedAt: string | undefined;
  const tab = text.lastIndexOf('\t');
  if (tab !== -1) {
    const tail = text.slice(tab + 1).trim();
    if (STUDY_TIMESTAMP.test(tail)) {
      json = text.slice(0, tab);
      loggedAt = tail;
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    return { kind: 'bad', reason: 'not-json', message: `not JSON (${(e as Error).message})`, excerpt: lineExcerpt(text) };
  }
  if (!isPlainObject(value)) {
    return { kind: 'bad', reason: 'not-object', message: `the line is ${typeName(value)}, expected a JSON object`, excerpt: lineExcerpt(text) };
  }
  if (!('client' in value)) {
    return { kind: 'bad', reason: 'missing-client', message: 'the event has no "client" field', excerpt: lineExcerpt(text) };
  }
  if (!isPlainObject(value.client)) {
    return { kind: 'bad', reason: 'wrong-type', message: `client is ${typeName(value.client)}, expected an object`, excerpt: lineExcerpt(text) };
  }
  const problem = checkEventShape(value);
  if (problem !== undefined) return { kind: 'bad', reason: 'wrong-type', message: problem, excerpt: lineExcerpt(text) };
  const event = value as unknown as LOEvent;
  return loggedAt === undefined ? { kind: 'event', event } : { kind: 'event', event, loggedAt };
}
