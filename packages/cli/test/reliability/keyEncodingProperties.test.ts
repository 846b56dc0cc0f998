/**
 * Issue 7, point 10: property-based tests (fast-check, fixed seeds) over the file-name encoding
 * of the filesystem store, and over the whole way from ids to a file: makeKey -> file path ->
 * key -> parseKey. The reducers package has its own makeKey/parseKey properties
 * (packages/reducers/test/keys.test.ts); these add the file names and the chain between them.
 */
import fc from 'fast-check';
import { decodeFilename, encodeFilename, hashedFilename, keyToRelativePath, relativePathToKey } from '@learning-observer/kvs';
import { KeyStateType, makeKey, parseKey } from '@learning-observer/reducers';

/** What a file name made by encodeFilename may contain: letters, numerals, `_` (and Python's extra identifier starts), and `-`. */
const SAFE_NAME = /^[_\p{XID_Start}\p{L}\p{N}-]*$/u;
/** Characters that carry meaning in a path or a shell, and must never appear in an encoded name. */
const DANGEROUS = /[/\\.\u0000:%~*?\s]/;

/** An unpaired UTF-16 surrogate (not valid in a UTF-8 file name). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const HOSTILE_UNITS = ['/', '.', '-', '_', '%', ',', ':', '\u0000', '\\', '~', 'a', '1', 'ł', '😀', '\ud800', '\udc00', 'e', '\u0301', ' '];
/** Strings of any UTF-16 units, of full Unicode, and of few characters that collide easily. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 15 }),
  fc.string({ unit: fc.constantFrom(...HOSTILE_UNITS), maxLength: 12 }),
);
const RUNS = { numRuns: 3000 };

describe('encodeFilename / decodeFilename (properties)', () => {
  test('round trip: decodeFilename(encodeFilename(s)) === s', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        expect(decodeFilename(encodeFilename(s))).toBe(s);
      }),
      { seed: 70001, ...RUNS },
    );
  });

  test('output only has letters, numerals, `_` and `-`; never a path, shell or control character; valid UTF-16', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const name = encodeFilename(s);
        expect(name).toMatch(SAFE_NAME);
        expect(name).not.toMatch(DANGEROUS);
        expect(name).not.toMatch(LONE_SURROGATE);
      }),
      { seed: 70002, ...RUNS },
    );
  });

  test('injective: different strings never get the same name', () => {
    const small = fc.string({ unit: fc.constantFrom(...HOSTILE_UNITS), maxLength: 6 });
    fc.assert(
      fc.property(small, small, (a, b) => {
        expect(encodeFilename(a) === encodeFilename(b)).toBe(a === b);
      }),
      { seed: 70003, numRuns: 10000 },
    );
  });

  test('canonical: a name decodes only if it is exactly what the decoded string encodes to', () => {
    const nameLike = fc.string({ unit: fc.constantFrom('-', '0', '1', '4', '5', '9', 'a', '_', '.', 'ł'), maxLength: 12 });
    fc.assert(
      fc.property(fc.oneof(nameLike, anyString), (name) => {
        const decoded = decodeFilename(name);
        if (decoded !== undefined) expect(encodeFilename(decoded)).toBe(name);
      }),
      { seed: 70004, ...RUNS },
    );
  });
});

describe.each([false, true])('keyToRelativePath / relativePathToKey (subdirs: %s, properties)', (subdirs) => {
  // Stores refuse the empty key (InvalidKeyError) before any path is built, so keys are non-empty.
  const key = fc
    .oneof(anyString, fc.array(anyString, { maxLength: 4 }).map((parts) => parts.join('/')), fc.string({ unit: fc.constantFrom('a', '/', '_', '.'), maxLength: 10 }))
    .filter((k) => k !== '');

  test('every path is inside the store: no empty, `.` or `..` segment, no absolute path, safe characters only', () => {
    fc.assert(
      fc.property(key, (k) => {
        const rel = keyToRelativePath(k, subdirs);
        expect(rel.startsWith('/')).toBe(false);
        const segments = rel.split('/');
        if (!subdirs) expect(segments).toHaveLength(1);
        for (const seg of segments) {
          expect(['', '.', '..']).not.toContain(seg);
          if (seg !== hashedFilename(k)) expect(seg).toMatch(SAFE_NAME);
          expect(Buffer.byteLength(seg)).toBeLessThanOrEqual(255);
        }
      }),
      { seed: 70010 + Number(subdirs), ...RUNS },
    );
  });

  test('round trip: the key comes back from its path, or the path is the hashed name (key stored in the file)', () => {
    fc.assert(
      fc.property(key, (k) => {
        const rel = keyToRelativePath(k, subdirs);
        if (rel === hashedFilename(k)) expect(relativePathToKey(rel, subdirs)).toBeUndefined();
        else expect(relativePathToKey(rel, subdirs)).toBe(k);
      }),
      { seed: 70020 + Number(subdirs), ...RUNS },
    );
  });

  test('different keys: different paths, and no key file is a folder on the path of another key', () => {
    const small = fc.string({ unit: fc.constantFrom('a', '_', '/', '-', '9', '.'), minLength: 1, maxLength: 7 });
    fc.assert(
      fc.property(small, small, (a, b) => {
        fc.pre(a !== b);
        const pa = keyToRelativePath(a, subdirs);
        const pb = keyToRelativePath(b, subdirs);
        expect(pa).not.toBe(pb);
        expect(pb.startsWith(pa + '/')).toBe(false);
        expect(pa.startsWith(pb + '/')).toBe(false);
      }),
      { seed: 70030 + Number(subdirs), numRuns: 10000 },
    );
  });
});

describe('from ids to a file and back (properties)', () => {
  const id = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ unit: fc.constantFrom(...HOSTILE_UNITS), maxLength: 10 }));
  const stateType = fc.constantFrom(KeyStateType.INTERNAL, KeyStateType.EXTERNAL);

  test.each([false, true])('makeKey -> path -> key -> parseKey gives the ids back (subdirs: %s)', (subdirs) => {
    fc.assert(
      fc.property(id, id, stateType, (student, doc, type) => {
        const fields = { 'EventField.doc_id': doc, STUDENT: student };
        const k = makeKey('writing_observer.writing_analysis.event_count', fields, type);
        const rel = keyToRelativePath(k, subdirs);
        const back = rel === hashedFilename(k) ? k : relativePathToKey(rel, subdirs);
        expect(back).toBe(k);
        expect(parseKey(back!)).toEqual({ stateType: type, reducerId: 'writing_observer.writing_analysis.event_count', fields });
      }),
      { seed: 70040 + Number(subdirs), ...RUNS },
    );
  });
});
