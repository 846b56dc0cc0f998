import { reducerModule, studentEventReducer, type LOEvent, type ReducerOutput } from '@learning-observer/reducers';

/** State of the toy counter: events seen for the student. */
export type StudentEventCount = { count: number };

/**
 * The original's toy SBA module: counts every event per student in the `org.ets.sba` context.
 * Key: `External,lo_toy_sba.reducers.student_event_counter,STUDENT:<id>`.
 *
 * @example
 * ```ts
 * const { external } = await runReducers(ToyCounterModule, events);
 * await external({ STUDENT: 's1' }); // { count: 3 }
 * ```
 */
@reducerModule('lo_toy_sba.reducers', { context: 'org.ets.sba' })
export class ToyCounterModule {
  /** One line for listings (`lo replay --modules`, docs). */
  static readonly description = 'Toy SBA counter: number of events per student (context org.ets.sba).';

  /** Adds one to the student's count. */
  @studentEventReducer({ qualname: 'student_event_counter', nullState: { count: 0 }, default: { count: 0 } })
  studentEventCounter(_event: LOEvent, state: StudentEventCount | null): ReducerOutput {
    const next: StudentEventCount = { count: (typeof state?.count === 'number' ? state.count : 0) + 1 };
    return [next, next];
  }
}
