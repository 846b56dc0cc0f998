import { renderFieldValue, withClientFields, type LOEvent } from '@learning-observer/reducers';
import { docIdOf } from '../documents/docIdOf';

/**
 * The writing observer's event migrator, as the original's `document_link_to_doc_id`: an event
 * that names its Google Doc only in `client.object` (`id`, with a document editor `url`), as the
 * extension's keystroke and visibility events do, gets that id as `client.doc_id`, so the
 * per-document reducers (time on task, binned time on task, event count) key it like a save.
 * Other events are returned as they are (the same object): those with a `client.doc_id`, and
 * those whose `client.object.url` is not a document editor URL (e.g. the Docs home page).
 * Copy-on-write: the given event is never modified.
 *
 * @example
 * ```ts
 * const keystroke = { client: { source: 'org.mitros.writing_analytics', event: 'keystroke',
 *   object: { id: 'D1', url: 'https://docs.google.com/document/d/D1/edit' } } };
 * docIdFromDocumentLink(keystroke).client.doc_id; // 'D1' (keystroke itself is unchanged)
 * ```
 */
export function docIdFromDocumentLink(event: LOEvent): LOEvent {
  const docId = docIdOf(event);
  // Already keyed as docIdOf says (a doc_id of its own, also a numeric one): nothing to do.
  if (docId === undefined || renderFieldValue(event.client?.doc_id) === docId) return event;
  return withClientFields(event, { doc_id: docId });
}
