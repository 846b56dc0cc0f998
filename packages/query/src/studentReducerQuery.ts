import type { ReducerDefinition } from '@learning-observer/reducers';
import { call, join, keys, parameter, select, variable, type QueryDag, type SelectFieldsSpec } from './nodes';

/** Options of {@link studentReducerQuery}. */
export interface StudentReducerQueryOptions {
  /** Published function returning the roster rows for a course (default `learning_observer.courseroster`). */
  rosterFunction?: string;
  /** The required parameter passed to the roster function (default `course_id`). */
  courseParameter?: string;
  /** Dotted path of the student id in each roster row (default `user_id`). */
  studentIdPath?: string;
  /** Fields of the state to keep (default `'all'`). */
  fields?: SelectFieldsSpec;
  /** Prefix of the node and export names (default: the reducer's qualname, the id's last part). */
  name?: string;
}

/**
 * The standard dashboard query "latest state of reducer R for every student on a course roster"
 * (the original's `generate_base_dag_for_student_reducer`). Nodes, for prefix `<n>`:
 *
 * - `roster`: `call(rosterFunction)(parameter(course_id, required))`, rows like `{ user_id, profile }`;
 * - `<n>_keys`: one state key per roster row;
 * - `<n>_output`: the states (the reducer's default where none is stored);
 * - `<n>_join_roster`: each state row merged with its roster row;
 * - export `<n>_export` returning `<n>_join_roster`, with parameter `course_id`.
 *
 * The join: the original joins on `provenance.provenance.value.user_id`, a path that went stale
 * when its keys node started to file each item's provenance under the scope field
 * (`provenance.provenance.STUDENT...`, Oct 2024). Since then its join never matches and returns
 * the states without their roster rows (a missing join path keeps the left row unchanged). We join
 * on the path our keys node really writes, `provenance.provenance.STUDENT.value.<studentIdPath>`
 * (the roster row itself), so every roster row comes back merged with its own state.
 *
 * @example
 * ```ts
 * engine.publishFunction('learning_observer.courseroster', (courseId: string) => rosters[courseId]);
 * engine.publishQuery('event_count', studentReducerQuery('lo_toy_sba.reducers.student_event_counter'));
 * const { student_event_counter_export: rows } = await engine.execute('event_count', {
 *   exports: ['student_event_counter_export'],
 *   parameters: { course_id: 'c1' },
 * });
 * // rows: [{ count: 3, user_id: 's1', profile: {...}, provenance: {...} }, ...]
 * ```
 */
export function studentReducerQuery(reducer: string | Pick<ReducerDefinition, 'id' | 'qualname'>, options: StudentReducerQueryOptions = {}): QueryDag {
  const id = typeof reducer === 'string' ? reducer : reducer.id;
  const name = options.name ?? (typeof reducer === 'string' ? id.slice(id.lastIndexOf('.') + 1) : reducer.qualname);
  const rosterFunction = options.rosterFunction ?? 'learning_observer.courseroster';
  const courseParameter = options.courseParameter ?? 'course_id';
  const studentIdPath = options.studentIdPath ?? 'user_id';
  const keysNode = `${name}_keys`;
  const selectNode = `${name}_output`;
  const joinNode = `${name}_join_roster`;
  return {
    nodes: {
      roster: call(rosterFunction)(parameter(courseParameter, { required: true })),
      [keysNode]: keys(id, { STUDENTS: variable('roster'), STUDENTS_path: studentIdPath }),
      [selectNode]: select(variable(keysNode), options.fields ?? 'all'),
      [joinNode]: join(variable(selectNode), variable('roster'), `provenance.provenance.STUDENT.value.${studentIdPath}`, studentIdPath),
    },
    exports: {
      [`${name}_export`]: {
        returns: joinNode,
        parameters: [courseParameter],
        description: `Latest ${id} state of every student on the roster, merged with the roster row.`,
      },
    },
  };
}
