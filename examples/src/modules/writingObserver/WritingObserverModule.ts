import type { JsonValue } from '@learning-observer/kvs';
import {
  EventField,
  KeyField,
  Scope,
  kvsPipeline,
  reducerModule,
  type LOEvent,
  type ReducerOutput,
} from '@learning-observer/reducers';
import { applyDocumentAccess, applyDocumentList, applyLastDocument, type DocumentAccessState, type DocumentListState } from '../documents/documentState';
import { applyDocumentTags, type DocumentTagsState } from '../documents/documentTags';
import { InvalidModuleOptionError } from '../errors';
import { DEFAULT_MAX_INDEX } from '../reconstruct/applyCommand';
import type { ReconstructState } from '../reconstruct/GoogleDoc';
import { reconstructFromEvent } from '../reconstruct/reconstructFromEvent';
import { applyBinnedTimeOnTask, type BinnedTimeOnTaskState } from '../timeOnTask/applyBinnedTimeOnTask';
import { applyTimeOnTask, type TimeOnTaskState } from '../timeOnTask/applyTimeOnTask';
import { OUT_OF_ORDER_POLICIES, type OutOfOrderPolicy } from '../timeOnTask/outOfOrderPolicy';
import { docIdFromDocumentLink } from './docIdFromDocumentLink';

export { docIdFromDocumentLink } from './docIdFromDocumentLink';

/**
 * Module name (the first part of every reducer id), as in the original.
 *
 * @example
 * ```ts
 * `${WRITING_OBSERVER_MODULE}.time_on_task`; // the time-on-task reducer id
 * ```
 */
export const WRITING_OBSERVER_MODULE = 'writing_observer.writing_analysis';
/**
 * Event source the writing observer listens to.
 *
 * @example
 * ```ts
 * const event = { client: { source: WRITING_OBSERVER_CONTEXT, event: 'keystroke', doc_id: 'D1' } };
 * ```
 */
export const WRITING_OBSERVER_CONTEXT = 'org.mitros.writing_analytics';

/** Student and document (`client.doc_id`). */
const gdocScope = new Scope([KeyField.STUDENT, new EventField('doc_id')]);
/** Student only. */
const studentScope = new Scope([KeyField.STUDENT]);

/** Options of {@link WritingObserverModule}. */
export interface WritingObserverOptions {
  /** Most seconds one gap between events may add to time on task. Default 60. */
  timeOnTaskThreshold?: number;
  /** Bin width in seconds for binned time on task (an integer). Default 600. */
  binSize?: number;
  /** What a negative gap (an out-of-order event) does. Default `'ignore'`; `'subtract'` is the original's. */
  outOfOrder?: OutOfOrderPolicy;
  /** Largest document index a Google Docs command may address. Default 2,000,000. */
  maxDocumentIndex?: number;
  /**
   * Called for a Google Docs command type the reconstructor does not know (the command is
   * ignored). Default: one `console.warn` per type per module instance.
   */
  onUnknownCommand?: (type: string, command: Record<string, unknown>) => void;
}

function serverTime(event: LOEvent): number | undefined {
  const time = event.server?.time;
  return typeof time === 'number' && Number.isFinite(time) ? time : undefined;
}

/** `[state, state]`, or `[false, false]` (write nothing) when the event left the state alone. */
function both(state: JsonValue | undefined): ReducerOutput {
  return state === undefined ? [false, false] : [state, state];
}

/**
 * The Writing Observer reducers (module `writing_observer.writing_analysis`, context
 * `org.mitros.writing_analytics`), with the original's qualnames so state keys match it:
 *
 * | qualname | scope | state |
 * |---|---|---|
 * | `time_on_task` | student, doc | `{ saved_ts, total_time_on_task }` |
 * | `binned_time_on_task` | student, doc | `{ saved_ts, binned_time_on_task, current_bin }` |
 * | `reconstruct` | student, doc | `{ text, position, edit_metadata, tabs? }` |
 * | `event_count` | student, doc | `{ count }` |
 * | `document_list` | student | `{ docs: { <id>: { title, last_access } } }` |
 * | `last_document` | student | `{ document_id }` |
 * | `document_access_timestamps` | student | `{ timestamps: { <ms>: <id> }, last_document }` |
 * | `document_tagging` | student | `{ tags: { <tag>: [<id>...] } }` |
 *
 * Events that name their document only in `client.object` (keystrokes, visibility changes) get
 * a `client.doc_id` first, from the module's event migrator {@link docIdFromDocumentLink} (the
 * original's `document_link_to_doc_id`), so the per-document reducers count them too.
 *
 * Thresholds are constructor options; register an instance to change them.
 *
 * @example
 * ```ts
 * const { external } = await runReducers(new WritingObserverModule({ timeOnTaskThreshold: 60 }), events);
 * await external({ STUDENT: 's1', 'EventField.doc_id': 'D1' }); // per reducer, see runReducers
 * ```
 */
@reducerModule(WRITING_OBSERVER_MODULE, { context: WRITING_OBSERVER_CONTEXT, migrate: docIdFromDocumentLink })
export class WritingObserverModule {
  /** One line for listings (`lo replay --modules`, docs). */
  static readonly description =
    'Writing Observer: time on task (total and in 10-minute bins), event count, document text reconstructed ' +
    'from Google Docs saves, document list, last document, document switches and #tags (context org.mitros.writing_analytics).';

  readonly timeOnTaskThreshold: number;
  readonly binSize: number;
  readonly outOfOrder: OutOfOrderPolicy;
  readonly maxDocumentIndex: number;
  private readonly onUnknownCommand: (type: string, command: Record<string, unknown>) => void;
  private readonly warnedTypes = new Set<string>();

  constructor(options: WritingObserverOptions = {}) {
    const threshold = options.timeOnTaskThreshold ?? 60;
    if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold <= 0) {
      throw new InvalidModuleOptionError('timeOnTaskThreshold', threshold, 'a positive number of seconds');
    }
    const binSize = options.binSize ?? 600;
    if (!Number.isInteger(binSize) || binSize <= 0) {
      throw new InvalidModuleOptionError('binSize', binSize, 'a positive integer number of seconds');
    }
    const outOfOrder = options.outOfOrder ?? 'ignore';
    if (!OUT_OF_ORDER_POLICIES.includes(outOfOrder)) {
      throw new InvalidModuleOptionError('outOfOrder', outOfOrder, `one of ${OUT_OF_ORDER_POLICIES.map((p) => `'${p}'`).join(', ')}`);
    }
    const maxIndex = options.maxDocumentIndex ?? DEFAULT_MAX_INDEX;
    if (!Number.isInteger(maxIndex) || maxIndex < 1) {
      throw new InvalidModuleOptionError('maxDocumentIndex', maxIndex, 'a positive integer');
    }
    this.timeOnTaskThreshold = threshold;
    this.binSize = binSize;
    this.outOfOrder = outOfOrder;
    this.maxDocumentIndex = maxIndex;
    this.onUnknownCommand =
      options.onUnknownCommand ??
      ((type) => {
        if (this.warnedTypes.has(type)) return;
        this.warnedTypes.add(type);
        console.warn(`reconstruct: ignoring Google Docs commands of unknown type ${JSON.stringify(type)} (reported once per type).`);
      });
  }

  /**
   * Seconds on task: the first event adds 0, each later one `min(threshold, gap)`. Events without
   * a numeric `server.time` are skipped.
   */
  @kvsPipeline({ scope: gdocScope, qualname: 'time_on_task', nullState: null, default: { saved_ts: 0 } })
  timeOnTask(event: LOEvent, state: TimeOnTaskState | null): ReducerOutput {
    const now = serverTime(event);
    if (now === undefined) return [false, false];
    return both(applyTimeOnTask(state, now, this.timeOnTaskThreshold, this.outOfOrder));
  }

  /** Time on task in `binSize` bins keyed by the bin start (epoch seconds). */
  @kvsPipeline({ scope: gdocScope, qualname: 'binned_time_on_task', nullState: null, default: { saved_ts: null, binned_time_on_task: {}, current_bin: null } })
  binnedTimeOnTask(event: LOEvent, state: BinnedTimeOnTaskState | null): ReducerOutput {
    const now = serverTime(event);
    if (now === undefined) return [false, false];
    // The pipeline hands each call its own copy of the state: update its bins in place.
    return both(applyBinnedTimeOnTask(state, now, this.timeOnTaskThreshold, this.binSize, this.outOfOrder, true));
  }

  /**
   * The document text rebuilt from `google_docs_save` and `document_history` events. A malformed
   * command throws, so the event fails for this key and nothing is written.
   */
  @kvsPipeline({ scope: gdocScope, qualname: 'reconstruct', nullState: null, default: { text: '' } })
  reconstruct(event: LOEvent, state: ReconstructState | null): ReducerOutput {
    return both(
      reconstructFromEvent(state, event, {
        maxIndex: this.maxDocumentIndex,
        onUnknownType: this.onUnknownCommand,
      }),
    );
  }

  /** Events per student and document. */
  @kvsPipeline({ scope: gdocScope, qualname: 'event_count', nullState: { count: 0 } })
  eventCount(_event: LOEvent, state: { count: number } | null): ReducerOutput {
    const next = { count: (typeof state?.count === 'number' ? state.count : 0) + 1 };
    return [next, next];
  }

  /** Every document the student touched, with its title and last access time. */
  @kvsPipeline({ scope: studentScope, qualname: 'document_list', nullState: { docs: {} }, default: { docs: {} } })
  documentList(event: LOEvent, state: DocumentListState | null): ReducerOutput {
    return both(applyDocumentList(state, event));
  }

  /** The document the student touched last. */
  @kvsPipeline({ scope: studentScope, qualname: 'last_document', nullState: null, default: { document_id: '' } })
  lastDocument(event: LOEvent): ReducerOutput {
    return both(applyLastDocument(event));
  }

  /** When the student switched to which document (milliseconds -> document id). */
  @kvsPipeline({
    scope: studentScope,
    qualname: 'document_access_timestamps',
    nullState: { timestamps: {}, last_document: '' },
    default: { timestamps: {} },
  })
  documentAccessTimestamps(event: LOEvent, state: DocumentAccessState | null): ReducerOutput {
    return both(applyDocumentAccess(state, event));
  }

  /** Documents grouped by the `#tags` in their titles. */
  @kvsPipeline({ scope: studentScope, qualname: 'document_tagging', nullState: { tags: {} }, default: { tags: {} } })
  documentTagging(event: LOEvent, state: DocumentTagsState | null): ReducerOutput {
    return both(applyDocumentTags(state, event));
  }
}
