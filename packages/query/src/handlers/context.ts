import type { KVStore } from '@learning-observer/kvs';
import type { ReducerInfo } from '../reducerSource';

/** A function a query may call (`call` and `map` nodes); sync or async. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type QueryFunction = (...args: any[]) => unknown;

/** What a node handler gets besides its resolved node. */
export interface HandlerContext {
  /** The node's name (used in error values). */
  name: string;
  /** A published function by name (validated to exist before the run). */
  fn(name: string): QueryFunction;
  /** A reducer by id (validated to exist before the run). */
  reducer(id: string): ReducerInfo;
  /** The store serving a reducer's backend (undefined = default). */
  store(backend: string | undefined): KVStore;
}
