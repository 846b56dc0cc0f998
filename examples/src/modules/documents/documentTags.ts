import type { LOEvent } from '@learning-observer/reducers';
import { copyDict } from './dict';
import { docIdOf } from './docIdOf';

/** Per-student document tags: tag -> ids of the documents whose title carries `#tag`. */
export type DocumentTagsState = { tags: { [tag: string]: string[] } };

/**
 * `#` followed by Unicode word characters (UTS #18: letters and other alphabetic characters,
 * combining marks, decimal digits, connector punctuation such as `_`, and joiners).
 */
const TAG = /#([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+)/gu;

/**
 * The `#tags` in a document title, in order of appearance, without the `#` (duplicates kept).
 *
 * @example
 * ```ts
 * extractTags('Draft #essay #日本語 #naïve-x'); // ['essay', '日本語', 'naïve']
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
