import type { LOEvent } from '@learning-observer/reducers';
import { MalformedCommandError } from '../errors';
import { applyCommands, type ApplyCommandOptions } from './applyCommand';
import { GoogleDoc, type ReconstructState } from './GoogleDoc';

/**
 * The event types the reconstruct reducer reads; all others leave the state alone.
 *
 * @example
 * ```ts
 * RECONSTRUCT_EVENTS.includes(String(event.client.event)); // worth reconstructing?
 * ```
 */
export const RECONSTRUCT_EVENTS: readonly string[] = ['google_docs_save', 'document_history'];

function commandsOfSave(client: Record<string, unknown>): unknown[] {
  const bundles = client.bundles;
  if (!Array.isArray(bundles)) throw new MalformedCommandError(bundles, '`client.bundles` of a google_docs_save must be a list');
  const commands: unknown[] = [];
  for (const bundle of bundles) {
    const list = (bundle as { commands?: unknown } | null)?.commands;
    if (!Array.isArray(list)) throw new MalformedCommandError(bundle, 'each bundle needs a `commands` list');
    commands.push(...list);
  }
  return commands;
}

function commandsOfHistory(client: Record<string, unknown>): unknown[] {
  const changelog = (client.history as { changelog?: unknown } | null | undefined)?.changelog;
  if (!Array.isArray(changelog)) {
    throw new MalformedCommandError(client.history, '`client.history.changelog` of a document_history must be a list');
  }
  return changelog.map((entry) => {
    if (!Array.isArray(entry) || entry.length === 0) {
      throw new MalformedCommandError(entry, 'each changelog entry must be a list whose first item is a command');
    }
    return entry[0];
  });
}

/**
 * Applies a `google_docs_save` event (every command of every bundle, in order) to a reconstruct
 * state, or rebuilds the document from scratch from a `document_history` event's changelog (the
 * first item of each entry). Returns the new state, or `undefined` for any other event type. The
 * input state is not changed; a malformed command throws {@link MalformedCommandError} and
 * nothing of that event is applied.
 *
 * @example
 * ```ts
 * reconstructFromEvent(null, {
 *   client: { event: 'google_docs_save', doc_id: 'D', bundles: [{ commands: [{ ty: 'is', ibi: 1, s: 'Hi' }] }] },
 * });
 * // { text: 'Hi', position: 3, edit_metadata: { cursor: [3], length: [2] } }
 * ```
 */
export function reconstructFromEvent(
  state: Partial<ReconstructState> | null | undefined,
  event: LOEvent,
  options: ApplyCommandOptions = {},
): ReconstructState | undefined {
  const client = (event?.client ?? {}) as Record<string, unknown>;
  if (client.event === 'google_docs_save') {
    const doc = GoogleDoc.fromJson(state);
    applyCommands(doc, commandsOfSave(client), options);
    return doc.toJson();
  }
  if (client.event === 'document_history') {
    const doc = new GoogleDoc();
    applyCommands(doc, commandsOfHistory(client), options);
    return doc.toJson();
  }
  return undefined;
}
