import {
  decodeFilename,
  encodeFilename,
  hashedFilename,
  keyToRelativePath,
  MAX_FILENAME_BYTES,
  relativePathToKey,
} from '../src/filenameEncoding';

/** Vectors observed from the original (shared/spec/reference-vectors.md). */
const ORIGINAL_VECTORS: [string, string][] = [
  ['[guest]', '-91-guest-93-'],
  ['foo/barła', 'foo-47-barła'],
  ['-123-', '-45-123-45-'],
  ['😀', '-128512-'],
  [
    'Internal,writing_observer.writing_analysis.reconstruct,EventField.doc_id:1AbC-x_y,STUDENT:tc-testcase-bob',
    'Internal-44-writing_observer-46-writing_analysis-46-reconstruct-44-EventField-46-doc_id-58-1AbC-45-x_y-44-STUDENT-58-tc-45-testcase-45-bob',
  ],
  ['{', '-123-'],
  ['Hello? How are -- you doing? łłł', 'Hello-63--32-How-32-are-32--45--45--32-you-32-doing-63--32-łłł'],
];

describe('encodeFilename / decodeFilename', () => {
  it.each(ORIGINAL_VECTORS)('encodes %j as the original does', (key, name) => {
    expect(encodeFilename(key)).toBe(name);
    expect(decodeFilename(name)).toBe(key);
  });

  it('keeps what Python isalnum/isidentifier keep, escapes the rest per code point', () => {
    expect(encodeFilename('abcXYZ019_')).toBe('abcXYZ019_');
    expect(encodeFilename('ñ日本ß٣²½Ⅷ℘')).toBe('ñ日本ß٣²½Ⅷ℘');
    expect(encodeFilename('a.b-c d')).toBe('a-46-b-45-c-32-d');
    expect(encodeFilename('\u0000\n\u00a0')).toBe('-0--10--160-');
    expect(encodeFilename('🎉x🇫🇷')).toBe('-127881-x-127467--127479-');
    expect(encodeFilename('e\u0301')).toBe('e-769-'); // combining accent
    expect(encodeFilename('\u00e9')).toBe('\u00e9');
    expect(encodeFilename('\ud800')).toBe('-55296-');
    expect(encodeFilename('')).toBe('');
  });

  it('round-trips arbitrary strings', () => {
    const samples = ['', '-', '--', '-1-', '5-', '1-2-', 'a-97-', '-45-9-45-', 'x\ud83d', '\u{10ffff}', 'emoji 😀 and ł', '../..'];
    for (const s of samples) expect(decodeFilename(encodeFilename(s))).toBe(s);
  });

  it('refuses names the encoding cannot produce', () => {
    expect(decodeFilename('notes.txt')).toBeUndefined();
    expect(decodeFilename('a-97-')).toBeUndefined(); // 'a' is never escaped
    expect(decodeFilename('-045-')).toBeUndefined();
    expect(decodeFilename('-1114112-')).toBeUndefined();
    expect(decodeFilename('-12')).toBeUndefined();
    expect(decodeFilename('a-b-')).toBeUndefined();
    expect(decodeFilename('.x.lock')).toBeUndefined();
  });
});

describe('keyToRelativePath / relativePathToKey', () => {
  it('uses one encoded file name in flat mode, no extension', () => {
    expect(keyToRelativePath('foo/barła', false)).toBe('foo-47-barła');
    expect(keyToRelativePath('_x', false)).toBe('_x');
    expect(relativePathToKey('foo-47-barła', false)).toBe('foo/barła');
    expect(relativePathToKey('_x', false)).toBe('_x');
    expect(relativePathToKey('_a/b', false)).toBeUndefined();
  });

  it('mirrors slashes as _-prefixed folders in subdirs mode', () => {
    expect(keyToRelativePath('a/b/c', true)).toBe('_a/_b/c');
    expect(keyToRelativePath('fob/perła', true)).toBe('_fob/perła');
    expect(keyToRelativePath('x/[guest]/y,z', true)).toBe('_x/_-91-guest-93-/y-44-z');
    expect(keyToRelativePath('/lead', true)).toBe('_/lead');
    expect(keyToRelativePath('a//b', true)).toBe('_a/_/b');
    expect(relativePathToKey('_a/_b/c', true)).toBe('a/b/c');
    expect(relativePathToKey('_/lead', true)).toBe('/lead');
    expect(relativePathToKey('_x/_-91-guest-93-/y-44-z', true)).toBe('x/[guest]/y,z');
  });

  it('keeps `_x` and `x/y` apart in subdirs mode', () => {
    expect(keyToRelativePath('_x', true)).toBe('-95-x');
    expect(keyToRelativePath('x/y', true)).toBe('_x/y');
    expect(keyToRelativePath('a/_b', true)).toBe('_a/-95-b');
    expect(relativePathToKey('-95-x', true)).toBe('_x');
    expect(relativePathToKey('_a/-95-b', true)).toBe('a/_b');
    // A last segment the original wrote with a plain leading `_` still reads.
    expect(relativePathToKey('_x', true)).toBe('_x');
  });

  it('ignores temp, lock, hashed and foreign names', () => {
    expect(relativePathToKey('.abc.lock', false)).toBeUndefined();
    expect(relativePathToKey('.abc.123.tmp', true)).toBeUndefined();
    expect(relativePathToKey(hashedFilename('k'), false)).toBeUndefined();
    expect(relativePathToKey('README.md', false)).toBeUndefined();
    expect(relativePathToKey('plain/folder', true)).toBeUndefined();
  });

  it('falls back to a hashed name for over-long names and empty last segments', () => {
    const long = 'ł'.repeat(200); // 400 bytes of UTF-8
    expect(Buffer.byteLength(encodeFilename(long))).toBeGreaterThan(MAX_FILENAME_BYTES);
    expect(keyToRelativePath(long, false)).toBe(hashedFilename(long));
    expect(keyToRelativePath(`ok/${long}`, true)).toBe(hashedFilename(`ok/${long}`));
    expect(keyToRelativePath('a/', true)).toBe(hashedFilename('a/'));
    expect(hashedFilename('a/')).toMatch(/^~[0-9a-f]{64}$/);
    const fits = 'a'.repeat(MAX_FILENAME_BYTES);
    expect(keyToRelativePath(fits, false)).toBe(fits);
    expect(keyToRelativePath(fits + 'a', false)).toBe(hashedFilename(fits + 'a'));
  });
});
