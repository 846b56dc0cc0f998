import type { LOEvent } from './events';

/**
 * A module's event migrator (the original's `add_common_migrator`): turns an event into the
 * form the module's reducers expect, before any of them is keyed, e.g. copying
 * `client.object.id` into `client.doc_id`. Declared with
 * `@reducerModule(name, { context, migrate })` (or `defineReducer({ ..., migrate })`).
 *
 * Copy-on-write: return the event itself when nothing changes (no allocation), or a changed copy
 * (see {@link withClientFields}); never modify the event you are given, which is the caller's.
 * It runs once per event for each module whose context matches the event's source, so keep it
 * cheap and synchronous. A migrator that throws (or returns something that is not an event) fails
 * that event for the module's reducers with an `EventMigrationError`.
 *
 * @example
 * ```ts
 * const docIdFromObject: EventMigrator = (event) =>
 *   event.client.doc_id === undefined && typeof (event.client.object as { id?: unknown })?.id === 'string'
 *     ? withClientFields(event, { doc_id: (event.client.object as { id: string }).id })
 *     : event;
 * ```
 */
export type EventMigrator = (event: LOEvent) => LOEvent;

/**
 * A copy of `event` whose `client` has `fields` set (the event and its `client` are shallow
 * copies; nested objects are shared, so do not modify them). The original event is unchanged.
 *
 * @example
 * ```ts
 * const migrated = withClientFields(event, { doc_id: 'D1' });
 * migrated.client.doc_id; // 'D1'
 * event.client.doc_id;    // unchanged
 * ```
 */
export function withClientFields(event: LOEvent, fields: Record<string, unknown>): LOEvent {
  return { ...event, client: { ...event.client, ...fields } };
}
