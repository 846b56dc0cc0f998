/**
 * The event envelope reducers receive, as the original Learning Observer logs and dispatches it:
 * `client` is what the browser sent (the event type, its `source`, and event fields such as
 * `doc_id`), `metadata.auth.safe_user_id` identifies the student, `server.time` is the receive time
 * in seconds.
 *
 * @example
 * ```ts
 * const event: LOEvent = {
 *   client: { source: 'org.mitros.writing_analytics', event: 'keystroke', doc_id: 'D1' },
 *   metadata: { auth: { safe_user_id: 's1' } },
 *   server: { time: 1700000000.5 },
 * };
 * ```
 */
export interface LOEvent {
  client: {
    source?: string;
    event?: string;
    [field: string]: unknown;
  };
  metadata?: {
    auth?: { safe_user_id?: string; [field: string]: unknown } | null;
    source?: string;
    [field: string]: unknown;
  } | null;
  server?: { time?: number; [field: string]: unknown } | null;
  [field: string]: unknown;
}

/**
 * The student id used for events without auth metadata, as in the original.
 *
 * @example
 * ```ts
 * studentIdOf({ client: {} }); // '[guest]'
 * ```
 */
export const GUEST_ID = '[guest]';

/**
 * The student an event belongs to: `metadata.auth.safe_user_id`, or {@link GUEST_ID} when the event
 * has no auth metadata or no (or an empty/null) `safe_user_id`. A numeric or boolean id is
 * rendered with {@link renderFieldValue}.
 *
 * @example
 * ```ts
 * studentIdOf({ client: {}, metadata: { auth: { safe_user_id: 'gc-123' } } }); // 'gc-123'
 * ```
 */
export function studentIdOf(event: LOEvent): string {
  const id = event?.metadata?.auth?.safe_user_id as unknown;
  if (id === undefined || id === null || id === '') return GUEST_ID;
  return renderFieldValue(id) ?? GUEST_ID;
}

/**
 * The event's source (the context reducers subscribe to), e.g. `org.mitros.writing_analytics`:
 * `event.client.source`, where browser clients and study logs carry it, else `event.metadata.source`
 * (where the original's websocket handler keeps the connection's source). `undefined` when neither
 * is a non-empty string. No renaming is done (the original's adapter turns legacy dashed sources
 * such as `org.mitros.writing-analytics` into underscores before this point).
 *
 * @example
 * ```ts
 * eventSourceOf({ client: { source: 'org.ets.sba', event: 'click' } }); // 'org.ets.sba'
 * ```
 */
export function eventSourceOf(event: LOEvent): string | undefined {
  const fromClient = event?.client?.source;
  if (typeof fromClient === 'string' && fromClient !== '') return fromClient;
  const fromMetadata = event?.metadata?.source;
  if (typeof fromMetadata === 'string' && fromMetadata !== '') return fromMetadata;
  return undefined;
}

/**
 * Renders an event field value as a key value the way the original's Python `str()` does for
 * the common cases: strings as is, `true`/`false` as `True`/`False`, numbers in JavaScript's
 * shortest form (`1`, `1.5`; Python would write a JSON `1.0` as `1.0` and `1e16` as `1e+16`, which
 * JavaScript cannot tell apart from `1` and `10000000000000000`), objects and arrays as JSON.
 * Returns `undefined` for `undefined` and `null`, which mean "field absent": the reducer is skipped.
 *
 * @example
 * ```ts
 * renderFieldValue(true); // 'True'
 * renderFieldValue(42);   // '42'
 * renderFieldValue(null); // undefined
 * ```
 */
export function renderFieldValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return String(value);
    case 'boolean':
      return value ? 'True' : 'False';
    case 'bigint':
      return value.toString();
    case 'undefined':
      return undefined;
    case 'object':
      if (value === null) return undefined;
      try {
        return JSON.stringify(value);
      } catch {
        return String(value);
      }
    default:
      return String(value);
  }
}
