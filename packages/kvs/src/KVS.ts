import { KVSError } from './errors';
import { KVSRouter } from './KVSRouter';
import { RESERVED_BACKEND_NAMES } from './settings';
import type { KVStore } from './types';

/** `KVS()`, `KVS.<name>()` or `getKVSRouter()` was used before `configureKVS`. */
export class KVSNotConfiguredError extends KVSError {}

/**
 * The module-level store accessor: `KVS()` is the default store, `KVS.<name>()` (or
 * `KVS['my-name']()`) the store configured under that name.
 */
export interface KVSAccessor {
  (): KVStore;
  readonly [backendName: string]: () => KVStore;
}

let current: KVSRouter | undefined;

function routerFor(call: string): KVSRouter {
  if (!current) {
    throw new KVSNotConfiguredError(
      `${call} was called before the key-value store was configured. Call configureKVS(settingsOrPath) first, ` +
        `e.g. configureKVS('creds.yaml') or configureKVS({ kvs: { default: { type: 'stub' } } }).`,
    );
  }
  return current;
}

const reserved = new Set(RESERVED_BACKEND_NAMES);
const accessors = new Map<string, () => KVStore>();

/** The proxied target: calling `KVS()` runs this (its `name` is `KVS`). */
const defaultStore = function KVS(): KVStore {
  return routerFor('KVS()').get('default');
};

/**
 * The configured stores. `KVS()` returns the default backend; `KVS.<name>()` a named one.
 * Configure first with {@link configureKVS}; until then calling either throws
 * `KVSNotConfiguredError`. An unknown name throws `UnknownBackendError` listing the configured
 * names. Names that are properties of every function (`name`, `length`, `call`, `bind`, `then`...)
 * cannot be backend names (settings reject them).
 *
 * @example
 * configureKVS('creds.yaml');
 * const store = KVS();
 * await store.set('greeting', { text: 'hello' });
 * const cached = await KVS.cache().get('greeting');
 */
export const KVS: KVSAccessor = new Proxy(defaultStore, {
  get(target, prop, receiver) {
    if (typeof prop === 'symbol' || reserved.has(prop)) return Reflect.get(target, prop, receiver);
    let accessor = accessors.get(prop);
    if (!accessor) {
      accessor = () => routerFor(`KVS.${prop}()`).get(prop);
      accessors.set(prop, accessor);
    }
    return accessor;
  },
}) as unknown as KVSAccessor;

/**
 * Validates settings (a YAML file path, a settings object, loaded settings, or a ready
 * `KVSRouter`) and makes them the module-level configuration used by `KVS()`. Throws
 * `StartupCheck` (listing every problem) and keeps the previous configuration when the new one is
 * invalid. Re-configuring closes the previous router in the background; use `await resetKVS()`
 * first when you need that close to have finished.
 *
 * @example
 * const router = configureKVS({ kvs: { default: { type: 'filesystem', path: '.lo_kvs' } } });
 * router.names(); // ['default']
 */
export function configureKVS(settingsOrPath: unknown): KVSRouter {
  const router = settingsOrPath instanceof KVSRouter ? settingsOrPath : new KVSRouter(settingsOrPath);
  const old = current;
  current = router;
  if (old && old !== router) {
    old.close().catch((err: unknown) => {
      process.emitWarning(`Closing the previous KVS configuration failed: ${(err as Error)?.message ?? String(err)}`, 'KVSWarning');
    });
  }
  return router;
}

/**
 * The router installed by `configureKVS`. Throws `KVSNotConfiguredError` when there is none.
 *
 * @example
 * getKVSRouter().describe().forEach((b) => console.log(b.name, b.type));
 */
export function getKVSRouter(): KVSRouter {
  return routerFor('getKVSRouter()');
}

/**
 * Whether `configureKVS` has been called (and not undone by `resetKVS`).
 *
 * @example
 * if (!isKVSConfigured()) configureKVS('creds.yaml');
 */
export function isKVSConfigured(): boolean {
  return current !== undefined;
}

/**
 * Closes the module-level router (every store it created) and forgets it, so `KVS()` throws
 * again until the next `configureKVS`. For tests and shutdown.
 *
 * @example
 * afterEach(() => resetKVS());
 */
export async function resetKVS(): Promise<void> {
  const old = current;
  current = undefined;
  if (old) await old.close();
}
