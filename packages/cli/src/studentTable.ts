import type { KVSRouter } from '@learning-observer/kvs';
import { QueryEngine, readStates, studentReducerQuery } from '@learning-observer/query';
import { parseKey, type ReducerRegistry } from '@learning-observer/reducers';
import { visibleText, wordCount } from '@learning-observer/examples';

/** One row of the demo table. */
export interface StudentRow {
  student: string;
  documents: number;
  /** Events counted by the per-document `event_count` reducer, summed over the student's documents. */
  events: number;
  /** `time_on_task` seconds, summed over the student's documents. */
  timeOnTaskSeconds: number;
  /** Words in the reconstructed text, summed over the student's documents. */
  words: number;
}

const MODULE = 'writing_observer.writing_analysis';
const DOC_FIELD = 'EventField.doc_id';
const ROSTER_FUNCTION = 'lo_demo.roster';

/**
 * Reads the writing-observer state back through `@learning-observer/query`: the roster is every
 * student with a `document_list`; one `studentReducerQuery` (the dashboard DAG) fetches each
 * student's document list, then one `readStates` per reducer (one `multiget` each) fetches
 * `event_count`, `time_on_task` and `reconstruct` for every (student, document).
 *
 * @example
 * const rows = await readStudentTable(router, pipeline.registry);
 */
export async function readStudentTable(router: KVSRouter, registry: ReducerRegistry): Promise<StudentRow[]> {
  const store = router.get('default');
  const listId = `${MODULE}.document_list`;
  const students = (await store.keys(`External,${listId},`))
    .map((k) => parseKey(k).fields.STUDENT)
    .filter((s): s is string => typeof s === 'string')
    .sort();
  if (students.length === 0) return [];

  const engine = new QueryEngine({ router, reducers: registry, functions: { [ROSTER_FUNCTION]: () => students.map((user_id) => ({ user_id })) } });
  engine.publishQuery('documents', studentReducerQuery(listId, { rosterFunction: ROSTER_FUNCTION, name: 'documents' }));
  const out = await engine.execute('documents', { exports: ['documents_export'], parameters: { course_id: 'demo' } });
  const listRows = out.documents_export as Array<{ user_id: string; docs?: Record<string, unknown> }>;

  const pairs: { student: string; doc: string }[] = [];
  for (const row of listRows) for (const doc of Object.keys(row.docs ?? {}).sort()) pairs.push({ student: row.user_id, doc });
  const fields = pairs.map((p) => ({ STUDENT: p.student, [DOC_FIELD]: p.doc }));
  const options = { router, reducers: registry };
  const [counts, times, texts] = await Promise.all([
    readStates<{ count?: number }>(`${MODULE}.event_count`, fields, options),
    readStates<{ total_time_on_task?: number } | null>(`${MODULE}.time_on_task`, fields, options),
    readStates<{ text?: string } | null>(`${MODULE}.reconstruct`, fields, options),
  ]);

  const rows = new Map<string, StudentRow>();
  for (const s of students) rows.set(s, { student: s, documents: 0, events: 0, timeOnTaskSeconds: 0, words: 0 });
  pairs.forEach((p, i) => {
    const row = rows.get(p.student);
    if (!row) return;
    row.documents += 1;
    row.events += typeof counts[i]?.count === 'number' ? (counts[i].count as number) : 0;
    const t = times[i]?.total_time_on_task;
    row.timeOnTaskSeconds += typeof t === 'number' ? t : 0;
    row.words += wordCount(visibleText(texts[i] as { text?: string } | null));
  });
  return [...rows.values()];
}
