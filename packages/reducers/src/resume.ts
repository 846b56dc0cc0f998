import { StoreUnavailableError, type JsonValue } from '@learning-observer/kvs';
import { ReducerFrameworkError, describeValue } from './errors';
import type { LOEvent } from './events';

/** The field of a resumable internal state that holds the last applied replay position. */
export const SEQUENCE_FIELD = '__lo_seq';

/**
 * An internal state as stored in resume mode (pipeline option `sequence`): the reducer's state and
 * the replay position of the last event applied to it, in one value, so both are committed by the
 * same write on every backend.
 *
 * @example
 * ```ts
 * const stored: SequencedState = { __lo_seq: 41, state: { count: 3 } };
 * ```
 */
export interface SequencedState {
  __lo_seq: number;
  state: JsonValue;
}

/** A replay position: a safe, non-negative integer, increasing in log order. */
export type SequenceFn = (event: LOEvent) => number;

/**
 * A stored internal state is not in the resume format: it was written by a pipeline without
 * `sequence` (or by another program), so the events already applied to it are unknown.
 */
export class ResumeFormatError extends ReducerFrameworkError {}

/**
 * Wraps a reducer's internal state with its replay position (the resume-mode storage format).
 *
 * @example
 * ```ts
 * wrapSequenced(7, { count: 2 }); // { __lo_seq: 7, state: { count: 2 } }
 * ```
 */
export function wrapSequenced(seq: number, state: JsonValue): JsonValue {
  return { [SEQUENCE_FIELD]: seq, state } as unknown as JsonValue;
}

/**
 * Whether `value` is a state stored in the resume format.
 *
 * @example
 * ```ts
 * isSequenced({ __lo_seq: 1, state: null }); // true
 * isSequenced({ count: 1 }); // false
 * ```
 */
export function isSequenced(value: unknown): value is SequencedState {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const seq = (value as Record<string, unknown>)[SEQUENCE_FIELD];
  return typeof seq === 'number' && Number.isSafeInteger(seq) && 'state' in value;
}

/**
 * Splits a stored resume-format internal state into its position and the reducer's state; a
 * missing key (`undefined`) is position -1 with no state. Throws {@link ResumeFormatError} for a
 * value not in the resume format.
 *
 * @example
 * ```ts
 * unwrapSequenced('Internal,m.r,STUDENT:s1', { __lo_seq: 7, state: { count: 2 } }); // { seq: 7, state: { count: 2 } }
 * unwrapSequenced('Internal,m.r,STUDENT:s1', undefined); // { seq: -1, state: undefined }
 * ```
 */
export function unwrapSequenced(key: string, stored: JsonValue | undefined): { seq: number; state: JsonValue | undefined } {
  if (stored === undefined) return { seq: -1, state: undefined };
  if (!isSequenced(stored)) {
    throw new ResumeFormatError(
      `The internal state at ${JSON.stringify(key)} was not written in resume mode (no "${SEQUENCE_FIELD}" position), ` +
        'so the events already applied to it are unknown. Clear the store (or use another one) before a resumable replay, ' +
        'or replay without resume.',
    );
  }
  return { seq: stored[SEQUENCE_FIELD], state: stored.state };
}

/**
 * The position `sequence` gives `event`, checked (a safe non-negative integer).
 *
 * @example
 * ```ts
 * sequenceOf((e) => positions.get(e) ?? -1, event); // 12, or ReducerFrameworkError
 * ```
 */
export function sequenceOf(sequence: SequenceFn, event: LOEvent): number {
  const seq = sequence(event);
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new ReducerFrameworkError(
      `The pipeline's sequence function must return a non-negative whole number (the event's replay position); it returned ${describeValue(seq)}.`,
    );
  }
  return seq;
}

/**
 * How the pipeline waits out an unavailable store (`StoreUnavailableError`): it retries the same
 * store operation up to `attempts` more times, `delayMs` apart, before reporting the error.
 *
 * @example
 * ```ts
 * const retry: RetryOptions = { attempts: 60, delayMs: 1000, onUnavailable: (e) => console.error(e.message) };
 * ```
 */
export interface RetryOptions {
  /** Retries after the first failure (0: none). */
  attempts: number;
  /** Wait before each retry, in milliseconds. */
  delayMs: number;
  /** Called once when a store operation first fails as unavailable (not again until it is back). */
  onUnavailable?: (error: StoreUnavailableError) => void;
  /** Called once when an operation succeeds again after `onUnavailable`. */
  onAvailable?: () => void;
}

/**
 * Runs store operations with {@link RetryOptions}; tracks whether the store is down so that the
 * callbacks fire once per outage, whatever the number of operations waiting.
 *
 * @example
 * ```ts
 * const retrier = new StoreRetrier({ attempts: 10, delayMs: 500 });
 * const value = await retrier.run(() => store.get('k'));
 * ```
 */
export class StoreRetrier {
  private down = false;

  constructor(readonly options: RetryOptions) {
    if (!Number.isInteger(options.attempts) || options.attempts < 0) {
      throw new ReducerFrameworkError(`retry.attempts must be a whole number >= 0; got ${describeValue(options.attempts)}.`);
    }
    if (!Number.isFinite(options.delayMs) || options.delayMs < 0) {
      throw new ReducerFrameworkError(`retry.delayMs must be a number of milliseconds >= 0; got ${describeValue(options.delayMs)}.`);
    }
  }

  /** Runs `op`, retrying it while it fails with `StoreUnavailableError` (at most `attempts` times). */
  async run<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const value = await op();
        if (this.down) {
          this.down = false;
          this.options.onAvailable?.();
        }
        return value;
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || attempt >= this.options.attempts) throw err;
        if (!this.down) {
          this.down = true;
          this.options.onUnavailable?.(err);
        }
        await new Promise((resolve) => setTimeout(resolve, this.options.delayMs));
      }
    }
  }
}
