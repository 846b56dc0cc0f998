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
        const proto = Object.getPrototypeOf(v);
        // Object.prototype of another realm (structuredClone output under Jest/vm) counts as plain.
        if (proto !== Object.prototype && proto !== null && !(Object.getPrototypeOf(proto) === null && proto.constructor?.name === 'Object')) {
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

/** A deep copy of a JSON value (`undefined` stays `undefined`). */
export function cloneJson<T extends JsonValue | undefined>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  return structuredClone(value);
}
