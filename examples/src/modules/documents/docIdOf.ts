import type { LOEvent } from '@learning-observer/reducers';

/**
 * A Google Docs editor URL: `https://docs.google.com/document/d/<id>/<action>`.
 *
 * @example
 * ```ts
 * GOOGLE_DOC_URL.test('https://docs.google.com/document/d/abc/edit'); // true
 * GOOGLE_DOC_URL.test('https://docs.google.com/document/u/0/');       // false
 * ```
 */
export const GOOGLE_DOC_URL = /^https:\/\/docs\.google\.com\/document\/d\/[^/\s]+\/[a-zA-Z]+/;

/**
 * The Google Doc an event is about: `client.doc_id` when set (save and history events carry it),
 * else `client.object.id` when `client.object.url` is a document editor URL (keystroke and
 * visibility events from the extension), else `undefined` (e.g. the Docs home page). Numeric ids
 * are returned as strings.
 *
 * @example
 * ```ts
 * docIdOf({ client: { doc_id: 'D1' } }); // 'D1'
 * docIdOf({ client: { object: { id: 'D2', url: 'https://docs.google.com/document/d/D2/edit' } } }); // 'D2'
 * ```
 */
export function docIdOf(event: LOEvent): string | undefined {
  const client = event?.client as Record<string, unknown> | undefined;
  const direct = asId(client?.doc_id);
  if (direct !== undefined) return direct;
  const object = client?.object as Record<string, unknown> | null | undefined;
  if (typeof object !== 'object' || object === null) return undefined;
  if (typeof object.url !== 'string' || !GOOGLE_DOC_URL.test(object.url)) return undefined;
  return asId(object.id);
}

function asId(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value) && value !== 0) return String(value);
  return undefined;
}
