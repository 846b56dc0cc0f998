import { getKVSRouter, type KVStore } from '@learning-observer/kvs';

/** Anything that hands out named stores, like `KVSRouter`. */
export interface StoreRouter {
  get(name?: string): KVStore;
}

/**
 * Where reads go. `store` (when given) serves every reducer; otherwise `router` (default: the
 * global router behind `KVS()`) serves each reducer from its named `backend`, or `default`.
 */
export interface StoreOptions {
  store?: KVStore;
  router?: StoreRouter;
}

/**
 * The store holding the state of a reducer that writes to `backend` (undefined = default store).
 *
 * @example
 * ```ts
 * storeFor(undefined, { store: new InMemoryKVS() });
 * storeFor('redis_cache', { router });  // router.get('redis_cache')
 * ```
 */
export function storeFor(backend: string | undefined, options: StoreOptions): KVStore {
  if (options.store) return options.store;
  const router = options.router ?? getKVSRouter();
  return router.get(backend ?? 'default');
}
