import { InvalidEventFieldError, InvalidKeyPartError, describeValue } from './errors';

/**
 * Fixed key fields. An event reducer can use `STUDENT` (taken from the event's auth metadata);
 * `CLASS`, `RESOURCE` and `TEACHER` appear in keys written by other means (as in the original,
 * whose event pipeline fills only the student and event fields).
 *
 * @example
 * ```ts
 * new Scope([KeyField.STUDENT]);
 * ```
 */
export enum KeyField {
  STUDENT = 'STUDENT',
  CLASS = 'CLASS',
  RESOURCE = 'RESOURCE',
  TEACHER = 'TEACHER',
}

/**
 * Whether a key holds a reducer's internal state (its working memory) or its external state (what
 * dashboards read). The value is the key's first segment.
 *
 * @example
 * ```ts
 * makeKey('m.count', { STUDENT: 's1' }, KeyStateType.EXTERNAL); // 'External,m.count,STUDENT:s1'
 * ```
 */
export enum KeyStateType {
  INTERNAL = 'Internal',
  EXTERNAL = 'External',
}

const EVENT_FIELD_NAME = /^[\p{L}\p{N}._-]+$/u;
const HAS_ALNUM = /[\p{L}\p{N}]/u;

/**
 * A key field read from the event's client data: `new EventField('doc_id')` keys state by
 * `event.client.doc_id`. Names use letters, digits, `.`, `-` and `_` only (at least one letter or
 * digit); anything else throws {@link InvalidEventFieldError}.
 *
 * @example
 * ```ts
 * const doc = new EventField('doc_id');
 * doc.name;    // 'doc_id'
 * doc.keyName; // 'EventField.doc_id'
 * ```
 */
export class EventField {
  /** The client field name, e.g. `doc_id`. */
  readonly name: string;
  /** The name used in keys, e.g. `EventField.doc_id`. */
  readonly keyName: string;

  constructor(name: string) {
    if (typeof name !== 'string' || !EVENT_FIELD_NAME.test(name) || !HAS_ALNUM.test(name)) {
      throw new InvalidEventFieldError(name);
    }
    this.name = name;
    this.keyName = `EventField.${name}`;
  }

  /** `EventField.<name>`. */
  toString(): string {
    return this.keyName;
  }
}

/** A key field or an event field, e.g. `KeyField.STUDENT` or `new EventField('doc_id')`. */
export type ScopeField = KeyField | EventField;

/**
 * The name a scope field has inside keys: `STUDENT`, `EventField.doc_id`, ...
 *
 * @example
 * ```ts
 * keyNameOf(new EventField('doc_id')); // 'EventField.doc_id'
 * ```
 */
export function keyNameOf(field: ScopeField): string {
  return field instanceof EventField ? field.keyName : field;
}

/**
 * Compares two strings by Unicode code point (the order Python's `sorted` uses), not by UTF-16 unit.
 *
 * @example
 * ```ts
 * ['b', 'B', 'a'].sort(compareCodePoints); // ['B', 'a', 'b']
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (0xD800-0xDFFF) starts a code point above 0xFFFF, so it sorts after any other
    // unit (UTF-16 order would put it before 0xE000-0xFFFF).
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs === ys) return x - y;
    return xs ? 1 : -1;
  }
  return a.length - b.length;
}

/**
 * Parses a scope entry: a {@link KeyField}, an {@link EventField}, or its key name as a string
 * (`'STUDENT'`, `'EventField.doc_id'`), handy from plain JavaScript or configuration.
 *
 * @example
 * ```ts
 * toScopeField('EventField.doc_id'); // EventField('doc_id')
 * ```
 */
export function toScopeField(entry: ScopeField | string): ScopeField {
  if (entry instanceof EventField) return entry;
  if (typeof entry === 'string') {
    if ((Object.values(KeyField) as string[]).includes(entry)) return entry as KeyField;
    if (entry.startsWith('EventField.')) return new EventField(entry.slice('EventField.'.length));
  }
  throw new InvalidKeyPartError(
    `Unknown scope field ${describeValue(entry)}: use KeyField.STUDENT/CLASS/RESOURCE/TEACHER, ` +
      "new EventField('name'), or the strings 'STUDENT' or 'EventField.<name>'.",
  );
}

/**
 * The set of fields a reducer's state is keyed by (student, document, ...). Duplicates collapse;
 * `fields` are ordered as they appear in keys (by key name, in code-point order).
 *
 * @example
 * ```ts
 * const scope = new Scope([KeyField.STUDENT, new EventField('doc_id')]);
 * scope.keyNames; // ['EventField.doc_id', 'STUDENT']
 * ```
 */
export class Scope {
  /** The fields, sorted by key name. */
  readonly fields: readonly ScopeField[];
  /** The key names of the fields, sorted (`CLASS` < `EventField.x` < `RESOURCE` < `STUDENT` < `TEACHER`). */
  readonly keyNames: readonly string[];

  constructor(fields: Iterable<ScopeField | string> = [KeyField.STUDENT]) {
    if (fields === null || typeof (fields as Iterable<unknown>)[Symbol.iterator] !== 'function' || typeof fields === 'string') {
      throw new InvalidKeyPartError(`A Scope takes a list of fields, e.g. new Scope([KeyField.STUDENT]); got ${describeValue(fields)}.`);
    }
    const byName = new Map<string, ScopeField>();
    for (const entry of fields) {
      const field = toScopeField(entry);
      byName.set(keyNameOf(field), field);
    }
    const names = [...byName.keys()].sort(compareCodePoints);
    this.keyNames = Object.freeze(names);
    this.fields = Object.freeze(names.map((n) => byName.get(n)!));
  }

  /** The student scope `[KeyField.STUDENT]`, as `@studentEventReducer` uses. */
  static student(): Scope {
    return new Scope([KeyField.STUDENT]);
  }

  /** Whether the scope contains `field` (a field or its key name). */
  has(field: ScopeField | string): boolean {
    return this.keyNames.includes(typeof field === 'string' ? field : keyNameOf(field));
  }

  /** The event fields of this scope. */
  get eventFields(): EventField[] {
    return this.fields.filter((f): f is EventField => f instanceof EventField);
  }

  toString(): string {
    return `Scope[${this.keyNames.join(', ')}]`;
  }
}
