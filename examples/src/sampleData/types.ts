/** A Google Docs save command, as the browser extension captures it (1-based indices). */
export type DocsCommand =
  | { ty: 'is'; ibi: number; s: string }
  | { ty: 'ds'; si: number; ei: number }
  | { ty: 'as'; st: string; si: number; ei: number; sm: Record<string, unknown> }
  | { ty: 'mlti'; mts: DocsCommand[] };

/** One bundle of a `google_docs_save` request. */
export interface DocsBundle {
  commands: DocsCommand[];
  sid: string;
  reqId: number;
}

/**
 * One generated event in the server's envelope: `client` is what the browser sent, `metadata.auth`
 * what the server's authentication added, `server.time` the arrival time in epoch seconds.
 */
export interface SampleEvent {
  client: { event: string; source: string; [field: string]: unknown };
  metadata: { auth: { safe_user_id: string } };
  server: { time: number };
}

/** Options of {@link generateEvents} and {@link writeSampleLog}. */
export interface GenerateEventsOptions {
  /** Number of students (default 8). */
  students?: number;
  /** Google Docs per student (default 2). */
  docsPerStudent?: number;
  /** Events per student (default 300). Ignored when `totalEvents` is given. */
  eventsPerStudent?: number;
  /** Total events, spread as evenly as possible over the students (the first ones get one more). */
  totalEvents?: number;
  /** PRNG seed (default 1). Same options and seed, same events, byte for byte. */
  seed?: number;
  /** Start of the class session, epoch seconds (default 1700000000, 2023-11-14T22:13:20Z). */
  startTime?: number;
}

/** The options with every default filled in. */
export type ResolvedGenerateOptions = Required<Omit<GenerateEventsOptions, 'totalEvents'>> & { totalEvents: number };

/**
 * Defaults of the shipped sample log `examples/data/sample.jsonl.gz`.
 * @example
 * await writeSampleLog('examples/data/sample.jsonl.gz', SAMPLE_DEFAULTS); // the shipped file, byte for byte
 */
export const SAMPLE_DEFAULTS = Object.freeze({
  students: 8,
  docsPerStudent: 2,
  eventsPerStudent: 300,
  seed: 1,
  startTime: 1700000000,
});

/**
 * Fills in defaults and checks the option values; throws `RangeError` with a hint on bad ones.
 * @example
 * resolveGenerateOptions({ students: 2 }).totalEvents; // 600 (2 x 300)
 */
export function resolveGenerateOptions(options: GenerateEventsOptions = {}): ResolvedGenerateOptions {
  const students = options.students ?? SAMPLE_DEFAULTS.students;
  const docsPerStudent = options.docsPerStudent ?? SAMPLE_DEFAULTS.docsPerStudent;
  const eventsPerStudent = options.eventsPerStudent ?? SAMPLE_DEFAULTS.eventsPerStudent;
  const seed = options.seed ?? SAMPLE_DEFAULTS.seed;
  const startTime = options.startTime ?? SAMPLE_DEFAULTS.startTime;
  const positiveInt = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  };
  positiveInt('students', students, 1);
  positiveInt('docsPerStudent', docsPerStudent, 1);
  positiveInt('eventsPerStudent', eventsPerStudent, 0);
  positiveInt('seed', seed, 0);
  if (!Number.isFinite(startTime) || startTime < 0) throw new RangeError(`startTime must be epoch seconds >= 0, got ${startTime}`);
  const totalEvents = options.totalEvents ?? students * eventsPerStudent;
  positiveInt('totalEvents', totalEvents, 0);
  return { students, docsPerStudent, eventsPerStudent, seed, startTime, totalEvents };
}
