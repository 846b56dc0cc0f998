import { InvalidKeyError, InvalidValueError } from './errors';
import type { JsonValue } from './types';

/**
 * Throws `InvalidValueError` unless `value` is JSON that round-trips unchanged: null, booleans,
 * finite numbers, strings, arrays and plain objects, without cycles. The error names the first
 * offending path, e.g. `$.history[3].when`.
 *
 * @example
 * assertJsonValue('k', { a: [1, 2] });      // ok
 * assertJsonValue('k', { a: undefined });   // throws: the value at $.a is undefined
 */
export function assertJsonValue(key: string, value: unknown): asserts value is JsonValue {
  // Fast path: a check that builds no path strings. Only a value that fails it is walked again,
  // by the slow walk below, to name the offending path.
  if (isJsonFast(value, 0)) return;
  describeJsonProblem(key, value);
}

/** Depth past which the fast check hands over to the slow walk (which also detects cycles). */
const FAST_DEPTH = 64;

function isPlainPrototype(proto: unknown): boolean {
  // Object.prototype of another realm (structuredClone output under Jest/vm) counts as plain.
  return (
    proto === Object.prototype ||
    proto === null ||
    (Object.getPrototypeOf(proto) === null && (proto as { constructor?: { name?: string } }).constructor?.name === 'Object')
  );
}

function isJsonFast(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object': {
      if (v === null) return true;
      if (depth > FAST_DEPTH) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isJsonFast(v[i], depth + 1)) return false;
        return true;
      }
      if (!isPlainPrototype(Object.getPrototypeOf(v))) return false;
      // Object.keys, not for-in: much faster on objects keyed by integers (time bins, ids).
      const keys = Object.keys(v);
      for (let i = 0; i < keys.length; i++) {
        if (!isJsonFast((v as Record<string, unknown>)[keys[i]], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** The slow walk: throws `InvalidValueError` naming the first offending path (or returns when there is none). */
function describeJsonProblem(key: string, value: unknown): void {
  const seen = new Set<object>();
  const visit = (v: unknown, path: string): void => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        if (!Number.isFinite(v)) throw new InvalidValueError(key, path, `is ${v}, which JSON cannot represent`);
        return;
      case 'undefined':
        throw new InvalidValueError(key, path, 'is undefined');
      case 'bigint':
        throw new InvalidValueError(key, path, 'is a BigInt');
      case 'function':
        throw new InvalidValueError(key, path, 'is a function');
      case 'symbol':
        throw new InvalidValueError(key, path, 'is a symbol');
      case 'object': {
        if (v === null) return;
        if (seen.has(v)) throw new InvalidValueError(key, path, 'is a circular reference');
        if (Array.isArray(v)) {
          seen.add(v);
          for (let i = 0; i < v.length; i++) visit(v[i], `${path}[${i}]`);
          seen.delete(v);
          return;
        }
        if (!isPlainPrototype(Object.getPrototypeOf(v))) {
          const name = (v as object).constructor?.name ?? 'unknown';
          throw new InvalidValueError(key, path, `is a ${name} instance, not a plain object`);
        }
        seen.add(v);
        for (const k of Object.keys(v)) {
          visit((v as Record<string, unknown>)[k], /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`);
        }
        seen.delete(v);
        return;
      }
    }
  };
  visit(value, '$');
}

/** Throws `InvalidKeyError` unless `key` is a non-empty string. */
export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidKeyError(`Keys must be non-empty strings; got ${key === '' ? 'an empty string' : typeof key}.`);
  }
}

/** Validates and serialises a value for storage. */
export function encodeJson(key: string, value: unknown): string {
  assertJsonValue(key, value);
  return JSON.stringify(value);
}

/**
 * A deep copy of a JSON value (`undefined` stays `undefined`). Arrays and plain objects are copied
 * (own enumerable properties, `__proto__` included as a plain key); strings, numbers, booleans and
 * `null` are immutable and returned as they are.
 *
 * @example
 * const copy = cloneJson({ a: [1, { b: 2 }] }); // a new object; changing it leaves the original alone
 */
export function cloneJson<T extends JsonValue | undefined>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  return copyJson(value) as T;
}

/**
 * The array index a property name stands for (`"1699999200"` gives 1699999200), or -1 when it is
 * not one (`"01"`, `"1e3"`, `"a"`, 2^32-1 and above). Object keys that are array indices are
 * elements; writing and reading them by number instead of by string is about a quarter faster
 * per copy of an object keyed by epoch seconds (V8's string-keyed element access is slower).
 */
function arrayIndexOf(k: string): number {
  const length = k.length;
  if (length === 0 || length > 10) return -1;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const digit = k.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9 || (digit === 0 && i === 0 && length > 1)) return -1;
    n = n * 10 + digit;
  }
  return n < 4294967295 ? n : -1;
}

/**
 * Sets property `k` of a copy being built: by number when it is an array index (`index` from
 * {@link arrayIndexOf}, -1 otherwise), as an own data property when it is `__proto__` (an
 * assignment would set the prototype), else by name.
 */
function putProperty(out: Record<string, JsonValue>, k: string, index: number, v: JsonValue): void {
  if (index >= 0) (out as unknown as JsonValue[])[index] = v;
  else if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

function copyJson(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array<JsonValue>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i]);
    return out;
  }
  const out: Record<string, JsonValue> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const index = arrayIndexOf(k);
    putProperty(out, k, index, copyJson(index >= 0 ? (value as unknown as JsonValue[])[index] : value[k]));
  }
  return out;
}

/** Returned by {@link copyIfJson} for a value that is not JSON. */
const NOT_JSON: unique symbol = Symbol('not JSON');

/** A deep copy of `v` when it is JSON (the {@link isJsonFast} rules), else {@link NOT_JSON}. */
function copyIfJson(v: unknown, depth: number): JsonValue | typeof NOT_JSON {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : NOT_JSON;
    case 'object': {
      if (v === null) return null;
      if (depth > FAST_DEPTH) return NOT_JSON;
      if (Array.isArray(v)) {
        const out = new Array<JsonValue>(v.length);
        for (let i = 0; i < v.length; i++) {
          const c = copyIfJson(v[i], depth + 1);
          if (c === NOT_JSON) return NOT_JSON;
          out[i] = c;
        }
        return out;
      }
      if (!isPlainPrototype(Object.getPrototypeOf(v))) return NOT_JSON;
      const out: Record<string, JsonValue> = {};
      const keys = Object.keys(v);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const index = arrayIndexOf(k);
        const c = copyIfJson(index >= 0 ? (v as unknown[])[index] : (v as Record<string, unknown>)[k], depth + 1);
        if (c === NOT_JSON) return NOT_JSON;
        putProperty(out, k, index, c);
      }
      return out;
    }
    default:
      return NOT_JSON;
  }
}

/**
 * {@link assertJsonValue} and {@link cloneJson} in one walk: a deep copy of `value`, or
 * `InvalidValueError` naming the first offending path when it is not JSON. For stores that
 * validate what they are given and keep a copy of it.
 *
 * @example
 * const copy = cloneValidJson('k', { a: [1, 2] }); // a copy
 * cloneValidJson('k', { a: NaN });                  // throws: the value at $.a is NaN
 */
export function cloneValidJson(key: string, value: unknown): JsonValue {
  const copy = copyIfJson(value, 0);
  if (copy !== NOT_JSON) return copy;
  describeJsonProblem(key, value);
  // (describeJsonProblem throws for every value copyIfJson refuses; values deeper than the fast
  // check's depth limit that are JSON after all are copied here)
  return copyJson(value as JsonValue);
}
