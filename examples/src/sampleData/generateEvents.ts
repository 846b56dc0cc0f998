import { SeededRandom } from './prng';
import { StudentSimulator, TimedEvent } from './studentSimulator';
import { GenerateEventsOptions, resolveGenerateOptions, SampleEvent } from './types';

/**
 * The student id (`metadata.auth.safe_user_id`) of student number `index` (0-based) of `count`.
 * @example
 * sampleStudentId(0, 8);    // 'gc-student-01'
 * sampleStudentId(41, 1000); // 'gc-student-0042'
 */
export function sampleStudentId(index: number, count: number): string {
  const width = Math.max(2, String(count).length);
  return `gc-student-${String(index + 1).padStart(width, '0')}`;
}

/**
 * Builds one simulator per student, all from the one seed.
 * @example
 * const sims = createStudentSimulators({ students: 2, seed: 3 });
 * for (const { event } of mergeByTime(sims.map((s) => s.events()))) handle(event);
 * sims[0].texts(); // { <doc id>: <final text> }
 */
export function createStudentSimulators(options: GenerateEventsOptions = {}): StudentSimulator[] {
  const o = resolveGenerateOptions(options);
  const root = new SeededRandom(o.seed);
  const sims: StudentSimulator[] = [];
  const base = Math.floor(o.totalEvents / o.students);
  const extra = o.totalEvents % o.students;
  for (let i = 0; i < o.students; i++) {
    const rng = root.fork();
    sims.push(
      new StudentSimulator({
        studentId: sampleStudentId(i, o.students),
        events: base + (i < extra ? 1 : 0),
        docsPerStudent: o.docsPerStudent,
        startMs: Math.round(o.startTime * 1000) + rng.int(0, 300_000),
        rng,
      }),
    );
  }
  return sims;
}

interface HeapEntry {
  item: TimedEvent;
  student: number;
  source: Iterator<TimedEvent>;
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a.item.serverMs < b.item.serverMs || (a.item.serverMs === b.item.serverMs && a.student < b.student);
}

/**
 * Merges per-student event streams by arrival time with a binary heap: memory grows with the
 * number of students, never with the number of events.
 *
 * @example
 * const merged = [...mergeByTime(createStudentSimulators().map((s) => s.events()))];
 */
export function* mergeByTime(sources: Iterable<Iterator<TimedEvent>>): Generator<TimedEvent> {
  const heap: HeapEntry[] = [];
  const push = (e: HeapEntry) => {
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const siftDown = () => {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l], heap[m])) m = l;
      if (r < heap.length && before(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  let student = 0;
  for (const source of sources) {
    const first = source.next();
    if (!first.done) push({ item: first.value, student, source });
    student++;
  }
  while (heap.length > 0) {
    const top = heap[0];
    yield top.item;
    const next = top.source.next();
    if (next.done) {
      const last = heap.pop() as HeapEntry;
      if (heap.length > 0) {
        heap[0] = last;
        siftDown();
      }
    } else {
      top.item = next.value;
      siftDown();
    }
  }
}

/**
 * Generates a realistic, deterministic writing-observer log: `students` students typing essays in
 * `docsPerStudent` Google Docs each, as keystroke, `google_docs_save` (`is`/`ds`/`mlti`/`as`
 * commands that rebuild the typed text), `document_history` (on each document load) and
 * `visibility` events, with pauses and idle gaps over 60 s, ordered by `server.time`.
 * It streams: a million events never sit in memory at once.
 *
 * @example
 * for (const event of generateEvents({ students: 2, eventsPerStudent: 50, seed: 7 })) {
 *   console.log(event.client.event, event.metadata.auth.safe_user_id, event.server.time);
 * }
 */
export function* generateEvents(options: GenerateEventsOptions = {}): Generator<SampleEvent> {
  const sims = createStudentSimulators(options);
  for (const timed of mergeByTime(sims.map((s) => s.events()))) yield timed.event;
}
