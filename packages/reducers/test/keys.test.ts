import fc from 'fast-check';
import {
  EventField,
  InvalidKeyPartError,
  KeyStateType,
  MalformedKeyError,
  escapeKeyValue,
  makeKey,
  parseKey,
  unescapeKeyValue,
} from '@learning-observer/reducers';

const I = KeyStateType.INTERNAL;
const E = KeyStateType.EXTERNAL;

describe('makeKey reference vectors (original key strings)', () => {
  test.each([
    ['writing_observer.writing_analysis.reconstruct', { STUDENT: 'tc-testcase-bob', 'EventField.doc_id': '1AbC' }, I,
      'Internal,writing_observer.writing_analysis.reconstruct,EventField.doc_id:1AbC,STUDENT:tc-testcase-bob'],
    ['writing_observer.writing_analysis.time_on_task', { STUDENT: 'gc-123', 'EventField.tab_id': 't.0', 'EventField.doc_id': 'D' }, E,
      'External,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D,EventField.tab_id:t.0,STUDENT:gc-123'],
    ['writing_observer.writing_analysis.time_on_task', { STUDENT: '[guest]' }, E,
      'External,writing_observer.writing_analysis.time_on_task,STUDENT:[guest]'],
    ['learning_observer.blob_storage.state_blob',
      { TEACHER: 't', STUDENT: 's', RESOURCE: 'r', 'EventField.abc': '1', 'EventField.Zed': 'z', CLASS: 'c' }, I,
      'Internal,learning_observer.blob_storage.state_blob,CLASS:c,EventField.Zed:z,EventField.abc:1,RESOURCE:r,STUDENT:s,TEACHER:t'],
    ['lo_toy_sba.reducers.student_event_counter', { STUDENT: 's1' }, I, 'Internal,lo_toy_sba.reducers.student_event_counter,STUDENT:s1'],
  ] as const)('%s %j', (id, fields, type, expected) => {
    expect(makeKey(id, fields, type)).toBe(expected);
    expect(parseKey(expected)).toEqual({ stateType: type, reducerId: id, fields });
  });

  test('no fields gives just the state type and id', () => {
    expect(makeKey('m.global', {}, I)).toBe('Internal,m.global');
    expect(parseKey('Internal,m.global')).toEqual({ stateType: 'Internal', reducerId: 'm.global', fields: {} });
  });
});

describe('escaping', () => {
  test.each([
    ['a,b', 'a%2Cb'],
    ['a:b', 'a%3Ab'],
    ['50%', '50%25'],
    ['%2C', '%252C'],
    ['line\nbreak\t\u0000\u007f\u0085', 'line%0Abreak%09%00%7F%85'],
    ['\ud800x', '%uD800x'],
    ['x\udc00', 'x%uDC00'],
    ['😀 é/[guest] -_.', '😀 é/[guest] -_.'],
  ])('%j -> %s', (raw, escaped) => {
    expect(escapeKeyValue(raw)).toBe(escaped);
    expect(unescapeKeyValue(escaped)).toBe(raw);
  });

  test('an id with separators cannot forge another key', () => {
    const forged = makeKey('m.r', { STUDENT: 'bob,EventField.doc_id:x' }, I);
    expect(forged).toBe('Internal,m.r,STUDENT:bob%2CEventField.doc_id%3Ax');
    expect(forged).not.toBe(makeKey('m.r', { STUDENT: 'bob', 'EventField.doc_id': 'x' }, I));
    expect(parseKey(forged).fields).toEqual({ STUDENT: 'bob,EventField.doc_id:x' });
  });

  test.each([
    ['%2c', /invalid escape at position 0/],
    ['%41', /invalid escape at position 0/],
    ['100%', /invalid escape at position 3/],
    ['%uD83D%uDE00', /not in the form escapeKeyValue\(\) produces/],
    ['%u0041', /invalid escape/],
  ])('non-canonical escape %j is rejected', (escaped, message) => {
    expect(() => unescapeKeyValue(escaped)).toThrow(MalformedKeyError);
    expect(() => unescapeKeyValue(escaped)).toThrow(message);
  });
});

describe('validation', () => {
  test.each(['', 'a,b', 'a:b', 'a%b', 'a b', 'a\nb'])('reducer id %j is rejected', (id) => {
    expect(() => makeKey(id, { STUDENT: 's' }, I)).toThrow(InvalidKeyPartError);
    expect(() => makeKey(id, { STUDENT: 's' }, I)).toThrow(/Invalid reducer id/);
  });

  test.each(['student', 'EventField.', 'EventField.a,b', 'FOO', 'EventField.a:b'])('field name %j is rejected', (name) => {
    expect(() => makeKey('m.r', { [name]: 'x' }, I)).toThrow(`Invalid key field name ${JSON.stringify(name)}`);
  });

  test('non-string values and bad state types are rejected', () => {
    expect(() => makeKey('m.r', { STUDENT: 1 as unknown as string }, I)).toThrow('Key field STUDENT must be a string; got 1');
    expect(() => makeKey('m.r', {}, 'INTERNAL' as KeyStateType)).toThrow(/Invalid state type "INTERNAL"/);
  });

  test.each([
    ['', /must start with "Internal," or "External,"/],
    ['internal,m.r', /must start with/],
    ['Internal', /the reducer id is missing/],
    ['Internal,,STUDENT:s', /invalid reducer id ""/],
    ['Internal,m.r,STUDENT', /field "STUDENT" has no ':'/],
    ['Internal,m.r,FOO:x', /unknown field name "FOO"/],
    ['Internal,m.r,STUDENT:s,CLASS:c', /must be sorted by name without duplicates \(STUDENT then CLASS\)/],
    ['Internal,m.r,STUDENT:s,STUDENT:t', /without duplicates/],
    ['Internal,m.r,STUDENT:a:b', /field STUDENT: the value contains an unescaped separator/],
    ['Internal,m.r,STUDENT:a%zz', /field STUDENT: invalid escape/],
  ])('parseKey(%j) throws', (key, message) => {
    expect(() => parseKey(key)).toThrow(MalformedKeyError);
    expect(() => parseKey(key)).toThrow(message);
  });
});

describe('property: keys are injective and parseKey inverts makeKey', () => {
  const fieldName = fc.oneof(
    fc.constantFrom('STUDENT', 'CLASS', 'RESOURCE', 'TEACHER'),
    fc.stringMatching(/^[A-Za-z0-9._-]{0,6}[A-Za-z0-9]$/).map((n) => new EventField(n).keyName),
  );
  const value = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: fc.constantFrom(',', ':', '%', 'a', '2', 'C', '\n', '\ud800', '\udc00', '😀'), maxLength: 8 }),
  );
  const reducerId = fc.stringMatching(/^[a-z_][a-z0-9_.]{0,10}$/);
  const input = fc.record({
    reducerId,
    fields: fc.dictionary(fieldName, value, { maxKeys: 5 }),
    stateType: fc.constantFrom(KeyStateType.INTERNAL, KeyStateType.EXTERNAL),
  });

  test('parseKey(makeKey(x)) deep-equals x', () => {
    fc.assert(
      fc.property(input, (x) => {
        const key = makeKey(x.reducerId, x.fields, x.stateType);
        const parsed = parseKey(key);
        expect(parsed).toEqual({ stateType: x.stateType, reducerId: x.reducerId, fields: { ...x.fields } });
        expect(makeKey(parsed.reducerId, parsed.fields, parsed.stateType)).toBe(key);
      }),
      { seed: 20240601, numRuns: 2000 },
    );
  });

  test('distinct inputs give distinct keys', () => {
    fc.assert(
      fc.property(input, input, (a, b) => {
        const same =
          a.reducerId === b.reducerId &&
          a.stateType === b.stateType &&
          JSON.stringify(Object.entries(a.fields).sort()) === JSON.stringify(Object.entries(b.fields).sort());
        expect(makeKey(a.reducerId, a.fields, a.stateType) === makeKey(b.reducerId, b.fields, b.stateType)).toBe(same);
      }),
      { seed: 424242, numRuns: 2000 },
    );
  });

  test('values differing only in escapable characters give distinct keys', () => {
    fc.assert(
      fc.property(value, value, (v, w) => {
        fc.pre(v !== w);
        expect(makeKey('m.r', { STUDENT: v }, I)).not.toBe(makeKey('m.r', { STUDENT: w }, I));
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
});
