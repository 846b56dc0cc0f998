import type { LOEvent } from '@learning-observer/reducers';
import { copyDict } from './dict';
import { docIdOf } from './docIdOf';

/** Per-student document tags: tag -> ids of the documents whose title carries `#tag`. */
export type DocumentTagsState = { tags: { [tag: string]: string[] } };

/**
 * `#` followed by word characters exactly as the original's `re.findall(r'#(\w+)', title)` sees
 * them: Python's str `\w` is `str.isalnum()` or `_`, i.e. letters (`\p{L}`), every kind of number
 * (`\p{N}`: digits, `²`, `½`, `①`, `Ⅻ`) and `_`. Combining marks (`\p{M}`) are not alphanumeric in
 * Python, so `#cafe\u0301` gives `cafe` and `#हिन्दी` gives `ह`, as in the original. Checked code
 * point by code point against Python 3.11's `re` (characters Python's Unicode 14 tables do not
 * know yet aside).
 */
const TAG = /#([\p{L}\p{N}_]+)/gu;

/**
 * The `#tags` in a document title, in order of appearance, without the `#` (duplicates kept).
 *
 * @example
 * ```ts
 * extractTags('Draft #essay #日本語 #naïve-x #x²y'); // ['essay', '日本語', 'naïve', 'x²y']
 * ```
 */
export function extractTags(title: string): string[] {
  return [...title.matchAll(TAG)].map((m) => m[1]);
}

/**
 * Adds the event's document to each tag found in its title. Only `document_history` events (sent
 * when a document is opened) are read, as in the original. Returns the new state, or `undefined`
 * for other events and events without a document or a title.
 *
 * @example
 * ```ts
 * applyDocumentTags({ tags: {} }, { client: { event: 'document_history', doc_id: 'D1', object: { title: 'Plan #unit1' } } });
 * // { tags: { unit1: ['D1'] } }
 * ```
 */
export function applyDocumentTags(state: Partial<DocumentTagsState> | null | undefined, event: LOEvent): DocumentTagsState | undefined {
  if (event.client?.event !== 'document_history') return undefined;
  const docId = docIdOf(event);
  if (docId === undefined) return undefined;
  const title = (event.client?.object as { title?: unknown } | null | undefined)?.title;
  if (typeof title !== 'string') return undefined;
  const tags = copyDict(state?.tags);
  for (const tag of extractTags(title)) {
    const docs = Array.isArray(tags[tag]) ? [...tags[tag]] : [];
    if (!docs.includes(docId)) docs.push(docId);
    tags[tag] = docs;
  }
  return { tags };
}
