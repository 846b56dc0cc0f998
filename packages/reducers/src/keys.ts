import { InvalidKeyPartError, MalformedKeyError, describeValue } from './errors';
import { EventField, KeyField, KeyStateType, compareCodePoints } from './fields';

/** Characters escaped in key values: the separators `,` `:`, the escape `%`, and control characters. */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[,:%\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE_G = new RegExp(NEEDS_ESCAPE.source, 'g');
/** Characters a reducer id cannot contain. */
// eslint-disable-next-line no-control-regex
const BAD_ID_CHAR = /[,:%\s\u0000-\u001f\u007f-\u009f]|[\ud800-\udfff]/u;
const KEY_FIELD_NAMES = new Set<string>(Object.values(KeyField));

function hex(code: number, width: number): string {
  return code.toString(16).toUpperCase().padStart(width, '0');
}

/**
 * Escapes a key value so it cannot contain the key's separators: `%` -> `%25`, `,` -> `%2C`,
 * `:` -> `%3A`, control characters (U+0000-U+001F, U+007F-U+009F) -> `%HH` (two hex digits), and an unpaired UTF-16
 * surrogate -> `%uHHHH` (it would not survive UTF-8 storage). Everything else, including `[guest]`,
 * `.`, `-`, `/`, spaces and any other Unicode, is kept as is, so plain ids give the original's keys.
 *
 * @example
 * ```ts
 * escapeKeyValue('tc-testcase-bob'); // 'tc-testcase-bob'
 * escapeKeyValue('a,b:c%');          // 'a%2Cb%3Ac%25'
 * ```
 */
export function escapeKeyValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(NEEDS_ESCAPE_G, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `%${hex(code, 2)}` : `%u${hex(code, 4)}`;
  });
}

/**
 * Inverts {@link escapeKeyValue}. Throws `MalformedKeyError` on an escape `escapeKeyValue` never
 * produces (lower-case hex, an escaped character that needs no escaping, a bare `%`...), so every
 * key has exactly one spelling.
 *
 * @example
 * ```ts
 * unescapeKeyValue('a%2Cb%3Ac%25'); // 'a,b:c%'
 * ```
 */
export function unescapeKeyValue(escaped: string): string {
  if (NEEDS_ESCAPE.test(escaped.replace(/%/g, ''))) {
    throw new MalformedKeyError(escaped, 'the value contains an unescaped separator or control character');
  }
  if (!escaped.includes('%')) return escaped;
  let out = '';
  let i = 0;
  while (i < escaped.length) {
    const p = escaped.indexOf('%', i);
    if (p < 0) {
      out += escaped.slice(i);
      break;
    }
    out += escaped.slice(i, p);
    let char: string | undefined;
    let len = 0;
    const two = /^[0-9A-F]{2}$/.exec(escaped.slice(p + 1, p + 3));
    if (two) {
      char = String.fromCharCode(parseInt(two[0], 16));
      len = 3;
    } else {
      const four = /^u([0-9A-F]{4})$/.exec(escaped.slice(p + 1, p + 6));
      if (four) {
        const code = parseInt(four[1], 16);
        if (code >= 0xd800 && code <= 0xdfff) char = String.fromCharCode(code);
        len = 6;
      }
    }
    if (char === undefined || escapeKeyValue(char) !== escaped.slice(p, p + len)) {
      throw new MalformedKeyError(escaped, `invalid escape at position ${p} (expected %25, %2C, %3A, %HH for a control character or %uHHHH for a lone surrogate (H: a hex digit))`);
    }
    out += char;
    i = p + len;
  }
  // A lone surrogate escape followed by its partner would decode to a pair that escapes differently.
  if (escapeKeyValue(out) !== escaped) {
    throw new MalformedKeyError(escaped, 'the value is not in the form escapeKeyValue() produces');
  }
  return out;
}

/**
 * Checks a reducer id for use in keys: non-empty, without `,` `:` `%`, whitespace or control
 * characters. Throws `InvalidKeyPartError` otherwise.
 *
 * @example
 * ```ts
 * assertReducerId('writing_observer.writing_analysis.reconstruct'); // ok
 * ```
 */
export function assertReducerId(reducerId: unknown): asserts reducerId is string {
  if (typeof reducerId !== 'string' || reducerId.length === 0 || BAD_ID_CHAR.test(reducerId)) {
    throw new InvalidKeyPartError(
      `Invalid reducer id ${describeValue(reducerId)}: it must be a non-empty "<module>.<qualname>" without ',' ':' '%', ` +
        'whitespace or control characters.',
    );
  }
}

/**
 * Whether `name` is a key field name: `STUDENT`, `CLASS`, `RESOURCE`, `TEACHER` or `EventField.<name>`.
 *
 * @example
 * ```ts
 * isKeyFieldName('EventField.doc_id'); // true
 * isKeyFieldName('student');           // false
 * ```
 */
export function isKeyFieldName(name: string): boolean {
  if (KEY_FIELD_NAMES.has(name)) return true;
  if (!name.startsWith('EventField.')) return false;
  try {
    new EventField(name.slice('EventField.'.length));
    return true;
  } catch {
    return false;
  }
}

function assertFieldName(name: string): void {
  if (!isKeyFieldName(name)) {
    throw new InvalidKeyPartError(
      `Invalid key field name ${describeValue(name)}: use STUDENT, CLASS, RESOURCE, TEACHER or EventField.<name> ` +
        "(letters, digits, '.', '-', '_').",
    );
  }
}

/**
 * Builds a state key: `<Internal|External>,<reducerId>,<FIELD>:<value>,...`, fields sorted by name
 * in code-point order, values escaped with {@link escapeKeyValue}. For plain values this is exactly
 * the original Learning Observer's key, so state can be shared with it.
 *
 * @example
 * ```ts
 * makeKey('writing_observer.writing_analysis.reconstruct',
 *   { STUDENT: 'tc-testcase-bob', 'EventField.doc_id': '1AbC' }, KeyStateType.INTERNAL);
 * // 'Internal,writing_observer.writing_analysis.reconstruct,EventField.doc_id:1AbC,STUDENT:tc-testcase-bob'
 * ```
 */
export function makeKey(reducerId: string, fields: Readonly<Record<string, string>>, stateType: KeyStateType): string {
  if (stateType !== KeyStateType.INTERNAL && stateType !== KeyStateType.EXTERNAL) {
    throw new InvalidKeyPartError(`Invalid state type ${describeValue(stateType)}: use KeyStateType.INTERNAL or KeyStateType.EXTERNAL.`);
  }
  assertReducerId(reducerId);
  const names = Object.keys(fields);
  if (names.length > 1) names.sort(compareCodePoints);
  let key = `${stateType},${reducerId}`;
  for (const name of names) {
    assertFieldName(name);
    const value = fields[name];
    if (typeof value !== 'string') {
      throw new InvalidKeyPartError(`Key field ${name} must be a string; got ${describeValue(value)}. Convert it with String() first.`);
    }
    key += `,${name}:${escapeKeyValue(value)}`;
  }
  return key;
}

/**
 * What {@link parseKey} returns.
 *
 * @example
 * ```ts
 * const { reducerId, fields } = parseKey('External,m.count,STUDENT:s1');
 * ```
 */
export interface ParsedKey {
  stateType: KeyStateType;
  reducerId: string;
  fields: Record<string, string>;
}

/**
 * Splits a key made by {@link makeKey} back into its parts; `makeKey(parseKey(k)...) === k`.
 * Throws `MalformedKeyError` on anything `makeKey` cannot produce.
 *
 * @example
 * ```ts
 * parseKey('External,m.count,STUDENT:a%2Cb');
 * // { stateType: 'External', reducerId: 'm.count', fields: { STUDENT: 'a,b' } }
 * ```
 */
export function parseKey(key: string): ParsedKey {
  if (typeof key !== 'string') throw new MalformedKeyError(String(key), 'a key must be a string');
  const parts = key.split(',');
  const stateType = parts[0];
  if (stateType !== KeyStateType.INTERNAL && stateType !== KeyStateType.EXTERNAL) {
    throw new MalformedKeyError(key, 'it must start with "Internal," or "External,"');
  }
  if (parts.length < 2) throw new MalformedKeyError(key, 'the reducer id is missing');
  const reducerId = parts[1];
  try {
    assertReducerId(reducerId);
  } catch {
    throw new MalformedKeyError(key, `invalid reducer id ${describeValue(reducerId)}`);
  }
  const fields: Record<string, string> = {};
  let previous: string | undefined;
  for (const part of parts.slice(2)) {
    const colon = part.indexOf(':');
    if (colon < 0) throw new MalformedKeyError(key, `field ${describeValue(part)} has no ':'`);
    const name = part.slice(0, colon);
    if (!isKeyFieldName(name)) throw new MalformedKeyError(key, `unknown field name ${describeValue(name)}`);
    if (previous !== undefined && compareCodePoints(previous, name) >= 0) {
      throw new MalformedKeyError(key, `fields must be sorted by name without duplicates (${previous} then ${name})`);
    }
    const raw = part.slice(colon + 1);
    let value: string;
    try {
      value = unescapeKeyValue(raw);
    } catch (err) {
      throw new MalformedKeyError(key, `field ${name}: ${(err as MalformedKeyError).reason}`);
    }
    fields[name] = value;
    previous = name;
  }
  return { stateType, reducerId, fields };
}
