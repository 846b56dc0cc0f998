/**
 * `#tag` extraction against the original's `re.findall(r'#(\w+)', title)`. Each expected list was
 * printed by Python 3.11 (`python3 -c "import re; print(re.findall(r'#(\w+)', title))"`), so a
 * change here means the tags no longer match the original's state.
 */
import { applyDocumentTags, extractTags } from '../../src/modules';

const PYTHON_VECTORS: Array<[title: string, tags: string[]]> = [
  // Every Unicode number is a word character (\p{N}), not only decimal digits.
  ['#x\u00b2y', ['x\u00b2y']], // x²y
  ['#\u00bdcup #\u2460item #\u216b #x\u00b3', ['\u00bdcup', '\u2460item', '\u216b', 'x\u00b3']], // ½ ① Ⅻ ³
  ['#x\u2070', ['x\u2070']], // superscript zero
  ['#\u0663\u0664 #\u0967\u0968 #\u07c0', ['\u0663\u0664', '\u0967\u0968', '\u07c0']], // Arabic-Indic, Devanagari, NKo digits
  // Letters of every kind (titlecase, modifier, CJK).
  ['#\u01c5x', ['\u01c5x']],
  ['#\u02b0mod', ['\u02b0mod']],
  ['#\u65e5\u672c\u8a9e', ['\u65e5\u672c\u8a9e']],
  ['#snake_case', ['snake_case']],
  // Combining marks are not alphanumeric in Python: the tag stops before them.
  ['#cafe\u0301', ['cafe']],
  ['#\u0939\u093f\u0928\u094d\u0926\u0940', ['\u0939']], // हिन्दी
  // Joiners, connector punctuation other than `_`, middle dot, hyphen and emoji end a tag.
  ['#a\u200db', ['a']],
  ['#a\u203fb', ['a']],
  ['#a\u00b7b', ['a']],
  ['#a-b', ['a']],
  ['#\ud83d\ude42', []],
];

describe("document tags match Python's \\w", () => {
  it.each(PYTHON_VECTORS)('extractTags(%j)', (title, tags) => {
    expect(extractTags(title)).toEqual(tags);
  });

  it('files a document under a tag with a non-decimal number, as the original does', () => {
    const state = applyDocumentTags({ tags: {} }, { client: { event: 'document_history', doc_id: 'D1', object: { title: 'Notes #x\u00b2y #\u2460' } } });
    expect(state).toEqual({ tags: { 'x\u00b2y': ['D1'], '\u2460': ['D1'] } });
  });
});
