import type { JsonObject, JsonValue } from '@learning-observer/kvs';
import type { LOEvent } from '@learning-observer/reducers';

/**
 * Client fields the action summary drops: they repeat on every event and carry credentials.
 *
 * @example
 * ```ts
 * STRIPPED_CLIENT_FIELDS.includes('auth'); // true
 * ```
 */
export const STRIPPED_CLIENT_FIELDS: readonly string[] = ['metadata', 'source', 'version', 'auth'];

/**
 * The event's `client` part without {@link STRIPPED_CLIENT_FIELDS} (top level only; fields whose
 * value is `undefined` are left out, as JSON would).
 *
 * @example
 * ```ts
 * stripEvent({ client: { event: 'click', source: 'org.ets.da', auth: { token: 'x' }, x: 1 } });
 * // { event: 'click', x: 1 }
 * ```
 */
export function stripEvent(event: LOEvent): JsonObject {
  const out: JsonObject = Object.create(null);
  const client = event?.client;
  if (typeof client !== 'object' || client === null) return out;
  for (const [field, value] of Object.entries(client)) {
    if (STRIPPED_CLIENT_FIELDS.includes(field) || value === undefined) continue;
    out[field] = value as JsonValue;
  }
  return out;
}
