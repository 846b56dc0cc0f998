import type { JsonObject } from '@learning-observer/kvs';
import { reducerModule, studentEventReducer, type LOEvent, type ReducerOutput } from '@learning-observer/reducers';
import { InvalidModuleOptionError } from '../errors';
import { stripEvent } from './stripEvent';

/** State of the action summary: the student's latest events, oldest first. */
export type EventHistory = { events: JsonObject[] };

/** Options of {@link ActionSummaryModule}. */
export interface ActionSummaryOptions {
  /** How many events to keep per student (the newest ones). Default {@link DEFAULT_MAX_EVENTS}. */
  maxEvents?: number;
}

/**
 * Default of {@link ActionSummaryOptions.maxEvents}.
 *
 * @example
 * ```ts
 * new ActionSummaryModule().maxEvents === DEFAULT_MAX_EVENTS; // true
 * ```
 */
export const DEFAULT_MAX_EVENTS = 1000;

/**
 * The original's action summary (`lo_action_summary`): a per-student history of events, each
 * the event's `client` part without `metadata`, `source`, `version` and `auth`. Unlike the
 * original, only the newest `maxEvents` are kept (see examples/README.md for why). Listens to
 * `org.ets.da` (as the original), `org.ets.sba` and `org.mitros.writing_analytics`.
 * Key: `External,lo_action_summary.reducers.student_event_history,STUDENT:<id>`.
 *
 * @example
 * ```ts
 * const { external } = await runReducers(new ActionSummaryModule({ maxEvents: 50 }), events);
 * await external({ STUDENT: 's1' }); // { events: [{ event: 'keystroke', ... }, ...] }
 * ```
 */
@reducerModule('lo_action_summary.reducers', { context: ['org.ets.da', 'org.ets.sba', 'org.mitros.writing_analytics'] })
export class ActionSummaryModule {
  /** One line for listings (`lo replay --modules`, docs). */
  static readonly description = 'Action summary: the latest events of each student, without metadata/source/version/auth.';

  /** The cap in effect. */
  readonly maxEvents: number;

  constructor(options: ActionSummaryOptions = {}) {
    const maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
    if (!Number.isInteger(maxEvents) || maxEvents < 1) {
      throw new InvalidModuleOptionError('maxEvents', maxEvents, 'an integer of at least 1');
    }
    this.maxEvents = maxEvents;
  }

  /** Appends the stripped event and drops the oldest beyond `maxEvents`. */
  @studentEventReducer({ qualname: 'student_event_history', nullState: { events: [] }, default: { events: [] } })
  studentEventHistory(event: LOEvent, state: EventHistory | null): ReducerOutput {
    const previous = Array.isArray(state?.events) ? state!.events : [];
    const events = [...previous, stripEvent(event)];
    const next: EventHistory = { events: events.length > this.maxEvents ? events.slice(events.length - this.maxEvents) : events };
    return [next, next];
  }
}
