import { EventField, InvalidEventFieldError, KeyField, Scope, compareCodePoints, eventSourceOf, studentIdOf, renderFieldValue, GUEST_ID } from '@learning-observer/reducers';

describe('EventField', () => {
  test.each(['doc_id', 'tab-id', 'a.b', 'Zed', '1', 'straße', 'x_1-2.3'])('%j is valid', (name) => {
    const f = new EventField(name);
    expect(f.name).toBe(name);
    expect(f.keyName).toBe(`EventField.${name}`);
    expect(String(f)).toBe(`EventField.${name}`);
  });

  test.each(['', 'doc id', 'a,b', 'a:b', 'a%b', 'a\nb', '...', '-_', 'a/b', 'a[0]'])('%j is rejected, naming the bad name', (name) => {
    expect(() => new EventField(name)).toThrow(InvalidEventFieldError);
    expect(() => new EventField(name)).toThrow(`Invalid EventField name ${JSON.stringify(name)}: use only letters, digits, '.', '-' and '_'`);
  });

  test('non-string names are rejected', () => {
    expect(() => new EventField(3 as unknown as string)).toThrow('Invalid EventField name 3');
  });
});

describe('Scope', () => {
  test('sorts fields by key name in code-point order and drops duplicates', () => {
    const scope = new Scope([KeyField.TEACHER, KeyField.STUDENT, new EventField('abc'), 'EventField.Zed', KeyField.CLASS, KeyField.RESOURCE, 'STUDENT']);
    expect(scope.keyNames).toEqual(['CLASS', 'EventField.Zed', 'EventField.abc', 'RESOURCE', 'STUDENT', 'TEACHER']);
    expect(scope.eventFields.map((f) => f.name)).toEqual(['Zed', 'abc']);
    expect(scope.has(KeyField.STUDENT)).toBe(true);
    expect(scope.has(new EventField('abc'))).toBe(true);
    expect(scope.has(new EventField('nope'))).toBe(false);
  });

  test('defaults to the student scope', () => {
    expect(new Scope().keyNames).toEqual(['STUDENT']);
    expect(Scope.student().keyNames).toEqual(['STUDENT']);
  });

  test('unknown entries are rejected', () => {
    expect(() => new Scope(['student'])).toThrow(/Unknown scope field "student"/);
    expect(() => new Scope('STUDENT' as unknown as string[])).toThrow(/A Scope takes a list of fields/);
  });

  test('compareCodePoints orders astral characters after U+E000..U+FFFF', () => {
    expect(['\uffff', '😀', 'a', 'B'].sort(compareCodePoints)).toEqual(['B', 'a', '\uffff', '😀']);
  });
});

describe('events', () => {
  test('studentIdOf uses safe_user_id or [guest]', () => {
    expect(GUEST_ID).toBe('[guest]');
    expect(studentIdOf({ client: {}, metadata: { auth: { safe_user_id: 'gc-1' } } })).toBe('gc-1');
    expect(studentIdOf({ client: {} })).toBe('[guest]');
    expect(studentIdOf({ client: {}, metadata: {} })).toBe('[guest]');
    expect(studentIdOf({ client: {}, metadata: { auth: {} } })).toBe('[guest]');
    expect(studentIdOf({ client: {}, metadata: { auth: null } })).toBe('[guest]');
    expect(studentIdOf({ client: {}, metadata: { auth: { safe_user_id: '' } } })).toBe('[guest]');
    expect(studentIdOf({ client: {}, metadata: { auth: { safe_user_id: 12 as unknown as string } } })).toBe('12');
  });

  test('eventSourceOf reads client.source, then metadata.source', () => {
    expect(eventSourceOf({ client: { source: 'org.ets.sba' }, metadata: { source: 'other' } })).toBe('org.ets.sba');
    expect(eventSourceOf({ client: {}, metadata: { source: 'org.mitros.writing_analytics' } })).toBe('org.mitros.writing_analytics');
    expect(eventSourceOf({ client: {} })).toBeUndefined();
    expect(eventSourceOf({ client: { source: 5 as unknown as string } })).toBeUndefined();
  });

  test('renderFieldValue follows Python str() for common values', () => {
    expect(renderFieldValue('x')).toBe('x');
    expect(renderFieldValue(true)).toBe('True');
    expect(renderFieldValue(false)).toBe('False');
    expect(renderFieldValue(42)).toBe('42');
    expect(renderFieldValue(1.5)).toBe('1.5');
    expect(renderFieldValue(null)).toBeUndefined();
    expect(renderFieldValue(undefined)).toBeUndefined();
    expect(renderFieldValue({ a: 1 })).toBe('{"a":1}');
  });
});
