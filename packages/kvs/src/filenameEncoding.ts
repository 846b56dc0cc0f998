import { createHash } from 'node:crypto';

/**
 * Matches the characters a file name escapes: all but the ones Python's `c.isidentifier() or c.isalnum()`
 * accepts for a single character (letters, digits and other numerals, `_`, and the few extra
 * identifier-start symbols such as `℘`). With the `u` flag it matches whole code points. This is the rule of the original's `to_safe_filename`.
 */
const ESCAPED = /[^_\p{XID_Start}\p{L}\p{N}]/gu;

/** Longest file name (in UTF-8 bytes) most file systems accept. */
export const MAX_FILENAME_BYTES = 255;

/** Longest relative path (in UTF-8 bytes) we lay out before falling back to a hashed name. */
export const MAX_RELATIVE_PATH_BYTES = 3072;

/** First character of the file name used for keys whose encoded path is too long (never produced by {@link encodeFilename}). */
export const HASHED_NAME_PREFIX = '~';

/**
 * Encodes one key segment as a file name, the way the original Python store does: letters,
 * digits and `_` stay, every other code point (`-` included) becomes `-<decimal code point>-`.
 * Works per code point, so an emoji becomes one escape, not two surrogate halves.
 *
 * @example
 * encodeFilename('foo/barła'); // 'foo-47-barła'
 * encodeFilename('[guest]');   // '-91-guest-93-'
 * encodeFilename('😀');        // '-128512-'
 */
export function encodeFilename(segment: string): string {
  return segment.replace(ESCAPED, (ch) => `-${ch.codePointAt(0)}-`);
}

/**
 * Inverts {@link encodeFilename}. Returns `undefined` for a name `encodeFilename` cannot have
 * produced (an unescaped `.` or `-`, a malformed or non-canonical escape such as `-97-` for `a`),
 * so foreign files in a store's folder are never mistaken for keys.
 *
 * @example
 * decodeFilename('foo-47-barła'); // 'foo/barła'
 * decodeFilename('notes.txt');    // undefined
 */
export function decodeFilename(name: string): string | undefined {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const ch = name[i];
    if (ch !== '-') {
      out += ch;
      i++;
      continue;
    }
    const end = name.indexOf('-', i + 1);
    if (end < 0) return undefined;
    const digits = name.slice(i + 1, end);
    if (!/^(0|[1-9][0-9]{0,6})$/.test(digits)) return undefined;
    const codePoint = Number(digits);
    if (codePoint > 0x10ffff) return undefined;
    out += String.fromCodePoint(codePoint);
    i = end + 1;
  }
  return encodeFilename(out) === name ? out : undefined;
}

/**
 * Encodes the last segment of a key in `subdirs` mode. A leading `_` is escaped as `-95-` so the
 * file can never share a name with a folder (folders always start with `_`): keys `_x` and
 * `x/y` get `-95-x` and `_x/y`. The escape decodes back to `_` with the generic rule.
 */
function encodeLastSegment(segment: string): string {
  return segment.startsWith('_') ? `-95-${encodeFilename(segment.slice(1))}` : encodeFilename(segment);
}

/**
 * The name used for a key whose natural path is too long (or has an empty last segment).
 *
 * @example
 * hashedFilename('a/'); // '~' + 64 hex digits (sha256 of the key)
 */
export function hashedFilename(key: string): string {
  return HASHED_NAME_PREFIX + createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * True when `name` is a hashed key file (its key is stored inside the file).
 *
 * @example
 * isHashedFilename(hashedFilename('k')); // true
 * isHashedFilename('foo-47-bar');        // false
 */
export function isHashedFilename(name: string): boolean {
  return name.startsWith(HASHED_NAME_PREFIX);
}

/**
 * The path of `key`'s file relative to the store's folder, with `/` separators.
 *
 * - Flat (`subdirs` false): one encoded file name, as the original.
 * - `subdirs` true: the key splits on `/`; every folder segment becomes `_` + its encoding, the
 *   last segment is encoded (a leading `_` as `-95-`, see above): `a/b/c` -> `_a/_b/c`.
 * - When a name would exceed {@link MAX_FILENAME_BYTES} bytes (or the whole path
 *   {@link MAX_RELATIVE_PATH_BYTES}), or the last segment is empty, the key is stored at the top
 *   level as `~<sha256 of the key>`, with the full key inside the file.
 *
 * @example
 * keyToRelativePath('foo/barła', false); // 'foo-47-barła'
 * keyToRelativePath('a/b/c', true);      // '_a/_b/c'
 * keyToRelativePath('_x', true);         // '-95-x'
 */
export function keyToRelativePath(key: string, subdirs: boolean): string {
  let parts: string[];
  if (subdirs) {
    const segments = key.split('/');
    const last = segments.pop() as string;
    if (last === '') return hashedFilename(key);
    parts = segments.map((s) => '_' + encodeFilename(s));
    parts.push(encodeLastSegment(last));
  } else {
    parts = [encodeFilename(key)];
  }
  let total = 0;
  for (const p of parts) {
    const bytes = Buffer.byteLength(p, 'utf8');
    if (bytes > MAX_FILENAME_BYTES) return hashedFilename(key);
    total += bytes + 1;
  }
  if (total > MAX_RELATIVE_PATH_BYTES) return hashedFilename(key);
  return parts.join('/');
}

/**
 * Inverts {@link keyToRelativePath} for a path found on disk (with `/` separators). Returns
 * `undefined` for anything that is not a key file: temp and lock files (they start with `.`),
 * hashed names (read the key from inside the file), foreign files, and folders not starting
 * with `_`. In `subdirs` mode it also accepts a last segment written by the original with a
 * plain leading `_`.
 *
 * @example
 * relativePathToKey('-91-guest-93-', false); // '[guest]'
 * relativePathToKey('_a/_b/c', true);        // 'a/b/c'
 */
export function relativePathToKey(path: string, subdirs: boolean): string | undefined {
  const parts = path.split('/');
  const last = parts.pop() as string;
  if (last === '' || last.startsWith('.') || isHashedFilename(last)) return undefined;
  if (!subdirs) return parts.length === 0 ? decodeFilename(last) : undefined;
  const segments: string[] = [];
  for (const folder of parts) {
    if (!folder.startsWith('_')) return undefined;
    const decoded = decodeFilename(folder.slice(1));
    if (decoded === undefined) return undefined;
    segments.push(decoded);
  }
  const decodedLast = last.startsWith('-95-') ? prefixed('_', decodeFilename(last.slice(4))) : decodeFilename(last);
  if (decodedLast === undefined) return undefined;
  segments.push(decodedLast);
  return segments.join('/');
}

function prefixed(prefix: string, rest: string | undefined): string | undefined {
  return rest === undefined ? undefined : prefix + rest;
}
