import { Subject } from 'rxjs';
import {
  BufferOverflowError,
  DEFAULT_MAX_BUFFERED,
  ReducerPipeline,
  type LOEvent,
  type ReducerResult,
} from '@learning-observer/reducers';
import { SRC, Sequence, SlowStore, asStore, ev } from './helpers';


interface Pushed {
  /** Events the source pushed before the operator unsubscribed from it (or all of them). */
  pushed: number;
  /** Largest `pipeline.bufferedEvents` seen right after a push. */
  maxSeen: number;
  results: ReducerResult[];
  /** The error the output ended with, or 'completed'. */
  end: Promise<unknown>;
}

/** Pushes `events` synchronously through a Subject into `pipeline.operator()` (stops when unsubscribed). */
function pushAll(pipeline: ReducerPipeline, events: LOEvent[]): Pushed {
  const source = new Subject<LOEvent>();
  const results: ReducerResult[] = [];
  const end = new Promise<unknown>((resolve) =>
    source.pipe(pipeline.operator()).subscribe({ next: (r) => results.push(r), error: resolve, complete: () => resolve('completed') }),
  );
  let pushed = 0;
  let maxSeen = 0;
  for (const e of events) {
    if (!source.observed) break; // the operator gave up on the source
    source.next(e);
    pushed++;
    maxSeen = Math.max(maxSeen, pipeline.bufferedEvents);
  }
  if (source.observed) source.complete();
  return { pushed, maxSeen, results, end };
}

const distinctStudents = (n: number): LOEvent[] => Array.from({ length: n }, (_, i) => ev(SRC, `s${i}`, { n: i }));

describe('operator() bounds its buffer (a push source cannot be slowed down)', () => {
  test('a Subject outpacing a slow store: the buffer never exceeds maxBuffered, then the stream errors with BufferOverflowError', async () => {
    const store = new SlowStore(5, 3);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 4, maxBuffered: 100 });
    const run = pushAll(pipeline, distinctStudents(1000));
    const err = await run.end;

    expect(err).toBeInstanceOf(BufferOverflowError);
    expect((err as BufferOverflowError).maxBuffered).toBe(100);
    expect((err as Error).message).toBe(
      'pipeline.operator(): 100 events were already waiting for the store (maxBuffered 100, 4 store transactions in flight) ' +
        'when another one arrived, so the stream was stopped instead of letting memory grow without bound (a push source ' +
        'cannot be slowed down). Use pipeline.run() with an AsyncIterable (pull) source to get backpressure, raise the ' +
        "pipeline's maxBuffered option (memory grows with it), or add store capacity (a faster store, a higher concurrency, or batchSize).",
    );
    // 4 events started, 100 waited, the 105th overflowed; the operator then unsubscribed from the source
    expect(run.pushed).toBe(105);
    expect(run.maxSeen).toBe(100);
    // the buffered events are dropped (not applied); the tasks already running finish
    expect(pipeline.bufferedEvents).toBe(0);
    await pipeline.idle();
    expect(store.transactions).toBe(4);
    expect(pipeline.activeKeys).toBe(0);
  });

  test('the default bound is 10,000 events', async () => {
    const store = new SlowStore(6, 2);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 4 });
    expect(pipeline.maxBuffered).toBe(DEFAULT_MAX_BUFFERED);
    expect(DEFAULT_MAX_BUFFERED).toBe(10_000);
    const run = pushAll(pipeline, distinctStudents(20_000));
    expect(await run.end).toBeInstanceOf(BufferOverflowError);
    expect(run.pushed).toBe(4 + 10_000 + 1);
    expect(run.maxSeen).toBe(10_000);
    await pipeline.idle();
  });

  test('a burst below the bound completes, per key in arrival order', async () => {
    const store = new SlowStore(7, 3);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 4, maxBuffered: 100 });
    const events: LOEvent[] = [];
    for (let n = 0; n < 20; n++) for (let s = 0; s < 5; s++) events.push(ev(SRC, `s${s}`, { n }));
    const run = pushAll(pipeline, events);
    expect(await run.end).toBe('completed');
    expect(run.pushed).toBe(100);
    expect(run.maxSeen).toBeGreaterThan(50); // it really buffered
    expect(run.maxSeen).toBeLessThanOrEqual(100);
    expect(run.results).toHaveLength(100);
    for (let s = 0; s < 5; s++) {
      expect(await store.get(`Internal,test.seq.seq,STUDENT:s${s}`)).toEqual({ seen: Array.from({ length: 20 }, (_, i) => i) });
      const lasts = run.results.filter((r) => r.fields.STUDENT === `s${s}`).map((r) => (r.external as { last: number }).last);
      expect(lasts).toEqual(Array.from({ length: 20 }, (_, i) => i));
    }
    expect(pipeline.bufferedEvents).toBe(0);
  });

  test('batched mode: events arriving while a batch runs are bounded too', async () => {
    const store = new SlowStore(8, 3);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), batchSize: 10, maxBuffered: 20 });
    const run = pushAll(pipeline, distinctStudents(1000));
    expect(await run.end).toBeInstanceOf(BufferOverflowError);
    // the first 10 started a batch, 20 waited, the 31st overflowed
    expect(run.pushed).toBe(31);
    expect(run.maxSeen).toBe(20);
    await pipeline.idle();
    expect(pipeline.bufferedEvents).toBe(0);
  });

  test('unsubscribing drops (and un-counts) the buffered events', async () => {
    const store = new SlowStore(9, 3);
    const pipeline = new ReducerPipeline({ modules: [Sequence], store: asStore(store), concurrency: 2 });
    const source = new Subject<LOEvent>();
    const sub = source.pipe(pipeline.operator()).subscribe();
    for (const e of distinctStudents(50)) source.next(e);
    expect(pipeline.bufferedEvents).toBe(48);
    sub.unsubscribe();
    expect(pipeline.bufferedEvents).toBe(0);
    await pipeline.idle();
    expect(store.transactions).toBe(2);
  });

  test('maxBuffered is checked at construction', () => {
    const store = asStore(new SlowStore());
    expect(() => new ReducerPipeline({ modules: [Sequence], store, maxBuffered: 0 })).toThrow(
      'maxBuffered must be a positive integer (events operator() may buffer); got 0.',
    );
    expect(() => new ReducerPipeline({ modules: [Sequence], store, batchSize: 50, maxBuffered: 10 })).toThrow(
      'maxBuffered (10) must be at least batchSize (50): operator() buffers a whole batch before it starts one. Raise maxBuffered or lower batchSize.',
    );
    expect(new ReducerPipeline({ modules: [Sequence], store, batchSize: 50_000 }).maxBuffered).toBe(50_000);
  });
});
