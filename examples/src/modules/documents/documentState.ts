import type { LOEvent } from '@learning-observer/reducers';
import { copyDict } from './dict';
import { docIdOf } from './docIdOf';

/** One document in a student's {@link DocumentListState}. */
export type DocumentEntry = {
  /** `client.object.title` of the latest event that carried one (may be `null`). */
  title?: string | null;
  /** `server.time` (seconds) of the latest event about the document. */
  last_access?: number;
};

/** Per-student list of documents seen, by document id. */
export type DocumentListState = { docs: { [docId: string]: DocumentEntry } };

/** The document the student touched last. */
export type LastDocumentState = { document_id: string };

/** Per-student record of when the student switched documents. */
export type DocumentAccessState = {
  /** Document id by switch time (`client.metadata.ts`, milliseconds, as a string key). */
  timestamps: { [ms: string]: string };
  /** The document of the latest recorded switch ('' before the first). */
  last_document: string;
};

/**
 * Records the event's document in the student's list: its title (when the event has
 * `client.object.title`; a title that is not a string is stored as `null`) and `last_access` (when
 * `server.time` is a number). The original copies both whatever their type; this keeps
 * `title: string | null` and `last_access: number` for dashboards (examples/README.md, "Where we
 * differ"). Returns the new state, or `undefined` for events that are not about a document.
 *
 * @example
 * ```ts
 * applyDocumentList({ docs: {} }, { client: { doc_id: 'D1', object: { title: 'Essay' } }, server: { time: 5 } });
 * // { docs: { D1: { title: 'Essay', last_access: 5 } } }
 * ```
 */
export function applyDocumentList(state: Partial<DocumentListState> | null | undefined, event: LOEvent): DocumentListState | undefined {
  const docId = docIdOf(event);
  if (docId === undefined) return undefined;
  const docs = copyDict(state?.docs);
  const entry: DocumentEntry = { ...(docs[docId] ?? {}) };
  const object = event.client?.object as Record<string, unknown> | null | undefined;
  if (typeof object === 'object' && object !== null && !Array.isArray(object) && 'title' in object) {
    const title = object.title;
    entry.title = typeof title === 'string' ? title : null;
  }
  const time = event.server?.time;
  if (typeof time === 'number') entry.last_access = time;
  docs[docId] = entry;
  return { docs };
}

/**
 * The event's document as the student's last document, or `undefined` for events not about one.
 *
 * @example
 * ```ts
 * applyLastDocument({ client: { doc_id: 'D1' } }); // { document_id: 'D1' }
 * ```
 */
export function applyLastDocument(event: LOEvent): LastDocumentState | undefined {
  const docId = docIdOf(event);
  return docId === undefined ? undefined : { document_id: docId };
}

/** Milliseconds of an event: `client.metadata.ts`, else `server.time * 1000`. */
function eventMillis(event: LOEvent): string | undefined {
  const metadata = event.client?.metadata as Record<string, unknown> | null | undefined;
  const ts = typeof metadata === 'object' && metadata !== null ? metadata.ts : undefined;
  if (typeof ts === 'number' && Number.isFinite(ts)) return String(ts);
  if (typeof ts === 'string' && ts !== '') return ts;
  const time = event.server?.time;
  if (typeof time === 'number' && Number.isFinite(time)) return String(time * 1000);
  return undefined;
}

/**
 * Records a switch to the event's document, keyed by the event time in milliseconds, when it
 * differs from the last recorded document. `visibility` events are skipped (switching browser
 * tabs sends them from both documents). Returns the new state (also when nothing changed, as the
 * original does), or `undefined` when the event is skipped, not about a document, or has no time.
 *
 * @example
 * ```ts
 * applyDocumentAccess({ timestamps: {}, last_document: '' },
 *   { client: { event: 'keystroke', doc_id: 'D1', metadata: { ts: 1700000000123 } } });
 * // { timestamps: { '1700000000123': 'D1' }, last_document: 'D1' }
 * ```
 */
export function applyDocumentAccess(state: Partial<DocumentAccessState> | null | undefined, event: LOEvent): DocumentAccessState | undefined {
  if (event.client?.event === 'visibility') return undefined;
  const docId = docIdOf(event);
  if (docId === undefined) return undefined;
  const next: DocumentAccessState = {
    timestamps: copyDict(state?.timestamps),
    last_document: typeof state?.last_document === 'string' ? state.last_document : '',
  };
  if (docId !== next.last_document) {
    const ms = eventMillis(event);
    if (ms === undefined) return undefined;
    next.timestamps[ms] = docId;
    next.last_document = docId;
  }
  return next;
}
