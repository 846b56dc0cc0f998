import { createBackend, getBackendType } from './backendTypes';
import { KVSError, StoreClosedError, UnknownBackendError } from './errors';
import { loadSettings, type BackendConfig, type LoadSettingsOptions, type Settings, type SettingsIssue } from './settings';
import type { KVStore } from './types';

/** One configured backend, as `router.describe()` reports it (and `lo config check` prints it). */
export interface BackendDescription {
  /** The name in settings (`default`, `cache`...). */
  readonly name: string;
  /** The backend type (`stub`, `filesystem`, `redis_ephemeral`, `redis`, or a custom one). */
  readonly type: string;
  /** The class that implements it (`InMemoryKVS`, `FilesystemKVS`...). */
  readonly className: string;
  /** True when the data does not survive a restart (`stub`, `redis_ephemeral`, custom types that say so). */
  readonly volatile: boolean;
  /** Whether the store has been created yet (stores are created on first `get`). */
  readonly created: boolean;
  /** The validated entry (type-specific fields such as `path` or `expiry`). */
  readonly config: BackendConfig;
}

/** Creating a configured backend failed (for example the filesystem `path` cannot be created). */
export class BackendCreationError extends KVSError {}

/**
 * Owns the configured backends. Validates the settings when constructed (throwing
 * `StartupCheck` with every problem) and creates each store lazily, on the first `get(name)`;
 * later calls return the same store. Creating a Redis store does not connect: the connection is
 * made on its first operation. Loading Redis code (ioredis) happens only when a Redis store is
 * created.
 *
 * A router can be used on its own (tests, embedding) or installed as the module-level
 * `KVS()` with `configureKVS`.
 *
 * @example
 * const router = new KVSRouter({ kvs: { default: { type: 'stub' }, cache: { type: 'stub' } } });
 * await router.get().set('k', 1);            // the default store
 * await router.get('cache').get('k');        // undefined: a separate store
 * await router.close();
 */
export class KVSRouter {
  /** The validated settings this router was built from. */
  readonly settings: Settings;
  private readonly configs = new Map<string, BackendConfig>();
  private readonly stores = new Map<string, KVStore>();
  private closed = false;

  /**
   * @param settings a settings object (as in `creds.yaml`: `{ kvs: ..., redis_connection?: ... }`)
   *   or settings already returned by `loadSettings`, or the path of a YAML settings file (as
   *   {@link KVSRouter.fromFile}).
   */
  constructor(settings: unknown, options: LoadSettingsOptions = {}) {
    this.settings = loadSettings(settings, options);
    for (const config of this.settings.kvs) this.configs.set(config.name, config);
  }

  /**
   * Builds a router from a YAML settings file.
   *
   * @example
   * const router = KVSRouter.fromFile('creds.yaml');
   */
  static fromFile(path: string): KVSRouter {
    return new KVSRouter(loadSettings(path));
  }

  /** Warnings found in the settings (they do not stop the router). */
  get warnings(): readonly SettingsIssue[] {
    return this.settings.warnings;
  }

  /**
   * The store configured under `name` (default `'default'`), created on first use.
   * Throws `UnknownBackendError` listing the configured names when there is no such backend.
   *
   * @example
   * const store = router.get();          // same as router.get('default')
   * const cache = router.get('cache');
   */
  get(name: string = 'default'): KVStore {
    if (this.closed) {
      throw new StoreClosedError('This KVSRouter was closed; build a new one (or call configureKVS again) to get stores.');
    }
    const existing = this.stores.get(name);
    if (existing) return existing;
    const config = this.configOf(name);
    let store: KVStore;
    try {
      store = createBackend(config, this.settings);
    } catch (err) {
      if (err instanceof KVSError) throw err;
      throw new BackendCreationError(
        `Could not create backend "${name}" (type ${config.type}): ${(err as Error)?.message ?? String(err)}. Check kvs.${name} in ${this.settings.source}.`,
        { cause: err },
      );
    }
    this.stores.set(name, store);
    return store;
  }

  /** Whether a backend named `name` is configured. */
  has(name: string): boolean {
    return this.configs.has(name);
  }

  /** The configured backend names, in settings order. */
  names(): string[] {
    return [...this.configs.keys()];
  }

  /**
   * The backend type of `name` (`stub`, `filesystem`...), without creating the store.
   *
   * @example
   * router.typeOf('default'); // 'filesystem'
   */
  typeOf(name: string): string {
    return this.configOf(name).type;
  }

  /** The validated settings entry of `name` (throws `UnknownBackendError` when not configured). */
  configOf(name: string): BackendConfig {
    const config = this.configs.get(name);
    if (!config) {
      const names = this.names();
      throw new UnknownBackendError(
        `No KVS backend is named ${JSON.stringify(name)}. Configured backends: ${names.join(', ')}. ` +
          `Use one of those names, or add a "${name}" entry under kvs in ${this.settings.source}.`,
      );
    }
    return config;
  }

  /**
   * Every configured backend: name, type, class name and whether it is volatile (data lost on
   * restart), in settings order.
   *
   * @example
   * router.describe();
   * // [{ name: 'default', type: 'filesystem', className: 'FilesystemKVS', volatile: false, created: false, config: {...} }]
   */
  describe(): BackendDescription[] {
    return this.settings.kvs.map((config) => {
      const def = getBackendType(config.type);
      return {
        name: config.name,
        type: config.type,
        className: def?.className ?? '(unregistered type)',
        volatile: def?.volatile ?? false,
        created: this.stores.has(config.name),
        config,
      };
    });
  }

  /** Whether the data of backend `name` is lost on restart (`stub`, `redis_ephemeral`). */
  isVolatile(name: string): boolean {
    return getBackendType(this.configOf(name).type)?.volatile ?? false;
  }

  /**
   * Closes every store created so far and refuses further `get` calls. Safe to call twice.
   * If some stores fail to close, the others are still closed and the first error is thrown.
   */
  async close(): Promise<void> {
    this.closed = true;
    const stores = [...this.stores.values()];
    this.stores.clear();
    const results = await Promise.allSettled(stores.map((s) => s.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
