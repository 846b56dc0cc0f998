/** The `KeyboardEvent` fields the browser extension records for one key press. */
export interface KeyInfo {
  key: string;
  code: string;
  keyCode: number;
  shiftKey: boolean;
}

const PUNCTUATION: Record<string, [code: string, keyCode: number, shift: boolean]> = {
  ' ': ['Space', 32, false],
  '.': ['Period', 190, false],
  ',': ['Comma', 188, false],
  "'": ['Quote', 222, false],
  '!': ['Digit1', 49, true],
  '?': ['Slash', 191, true],
  '-': ['Minus', 189, false],
  ';': ['Semicolon', 186, false],
  ':': ['Semicolon', 186, true],
  '#': ['Digit3', 51, true],
};

/**
 * The key that types `ch` on a US keyboard (`\n` is Enter; letters outside ASCII are reported the
 * way a composed key is, with `code: 'Unidentified'`).
 *
 * @example
 * keyFor('A'); // { key: 'A', code: 'KeyA', keyCode: 65, shiftKey: true }
 */
export function keyFor(ch: string): KeyInfo {
  if (ch === '\n') return { key: 'Enter', code: 'Enter', keyCode: 13, shiftKey: false };
  if (/^[a-z]$/.test(ch)) return { key: ch, code: 'Key' + ch.toUpperCase(), keyCode: ch.toUpperCase().charCodeAt(0), shiftKey: false };
  if (/^[A-Z]$/.test(ch)) return { key: ch, code: 'Key' + ch, keyCode: ch.charCodeAt(0), shiftKey: true };
  if (/^[0-9]$/.test(ch)) return { key: ch, code: 'Digit' + ch, keyCode: ch.charCodeAt(0), shiftKey: false };
  const p = PUNCTUATION[ch];
  if (p) return { key: ch, code: p[0], keyCode: p[1], shiftKey: p[2] };
  return { key: ch, code: 'Unidentified', keyCode: 0, shiftKey: false };
}

/**
 * The Backspace key.
 * @example
 * BACKSPACE.keyCode; // 8
 */
export const BACKSPACE: KeyInfo = { key: 'Backspace', code: 'Backspace', keyCode: 8, shiftKey: false };
/**
 * The left Shift key, pressed on its own before a capital letter.
 * @example
 * SHIFT.code; // 'ShiftLeft'
 */
export const SHIFT: KeyInfo = { key: 'Shift', code: 'ShiftLeft', keyCode: 16, shiftKey: true };

const NEIGHBOURS: Record<string, string> = {
  a: 'sq', b: 'vn', c: 'xv', d: 'sf', e: 'wr', f: 'dg', g: 'fh', h: 'gj', i: 'uo', j: 'hk', k: 'jl', l: 'k',
  m: 'n', n: 'bm', o: 'ip', p: 'o', q: 'w', r: 'et', s: 'ad', t: 'ry', u: 'yi', v: 'cb', w: 'qe', x: 'zc',
  y: 'tu', z: 'x',
};

/**
 * A plausible typo for `ch` (a neighbouring key), or `undefined` when there is none.
 * @example
 * typoFor('a', (s) => s[0]); // 's'
 */
export function typoFor(ch: string, pick: (options: string) => string): string | undefined {
  const n = NEIGHBOURS[ch.toLowerCase()];
  return n ? pick(n) : undefined;
}
