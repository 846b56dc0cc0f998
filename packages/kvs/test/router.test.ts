import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { InMemoryKVS } from '../src/backends/InMemoryKVS';
import {
  BackendTypeRegistrationError,
  getBackendType,
  registerBackendType,
  supportedBackendTypes,
  unregisterBackendType,
} from '../src/backendTypes';
import { StoreClosedError, UnknownBackendError } from '../src/errors';
import { KVS, KVSNotConfiguredError, configureKVS, getKVSRouter, isKVSConfigured, resetKVS } from '../src/KVS';
import { KVSRouter } from '../src/KVSRouter';
import { StartupCheck, loadSettings } from '../src/settings';
import type { KVStore } from '../src/types';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kvs-router-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const twoStubs = { kvs: { default: { type: 'stub' }, cache: { type: 'stub' } } };

/** The error `fn` throws (fails the test when it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, nothing was thrown');
}

describe('KVSRouter', () => {
  test('named stub backends are separate stores; get() returns the same store each time', async () => {
    const router = new KVSRouter(twoStubs);
    expect(router.names()).toEqual(['default', 'cache']);
    expect(router.get()).toBe(router.get('default'));
    await router.get().set('k', { v: 1 });
    expect(await router.get('default').get('k')).toEqual({ v: 1 });
    expect(await router.get('cache').get('k')).toBeUndefined();
    await router.get('cache').set('k', 2);
    expect(await router.get().get('k')).toEqual({ v: 1 });
    await router.close();
  });

  test('unknown name: UnknownBackendError listing the configured names', async () => {
    const router = new KVSRouter(twoStubs);
    const err = thrown(() => router.get('sessions'));
    expect(err).toBeInstanceOf(UnknownBackendError);
    expect(err.message).toBe(
      'No KVS backend is named "sessions". Configured backends: default, cache. Use one of those names, or add a "sessions" entry under kvs in the settings object.',
    );
    expect(() => router.typeOf('sessions')).toThrow(UnknownBackendError);
    expect(router.has('sessions')).toBe(false);
    expect(router.has('cache')).toBe(true);
    await router.close();
  });

  test('invalid settings throw StartupCheck from the constructor', () => {
    const err = thrown(() => new KVSRouter({ kvs: { default: { type: 'redis_ephemeral' } } }));
    expect(err).toBeInstanceOf(StartupCheck);
    expect(err.message).toContain('kvs.default.expiry: backend "default" is type redis_ephemeral but has no "expiry" (seconds).');
  });

  test('fromFile, a path given to the constructor, and already-loaded settings', async () => {
    const file = join(dir, 'creds.yaml');
    writeFileSync(file, 'kvs:\n  - [default, {type: filesystem, path: ' + JSON.stringify(join(dir, 'fs-store')) + '}]\n  - [scratch, {type: stub}]\n');
    const router = KVSRouter.fromFile(file);
    expect(router.settings.source).toBe(file);
    expect(router.names()).toEqual(['default', 'scratch']);
    expect(router.typeOf('default')).toBe('filesystem');
    await router.get().set('a/b', [1, 2]);
    expect(await router.get().get('a/b')).toEqual([1, 2]);
    expect(readdirSync(join(dir, 'fs-store')).length).toBe(1);
    await router.close();

    const again = new KVSRouter(file);
    expect(await again.get().get('a/b')).toEqual([1, 2]);
    await again.close();

    const loaded = loadSettings(twoStubs);
    expect(new KVSRouter(loaded).settings).toBe(loaded);
  });

  test('describe() gives name, type, class and volatility without creating stores', async () => {
    const router = new KVSRouter({
      kvs: {
        default: { type: 'filesystem', path: join(dir, 'describe') },
        cache: { type: 'redis_ephemeral', expiry: 30, prefix: 'c:' },
        scratch: { type: 'stub' },
        durable: { type: 'redis', prefix: 'd:' },
      },
    });
    expect(router.describe().map(({ name, type, className, volatile, created }) => ({ name, type, className, volatile, created }))).toEqual([
      { name: 'default', type: 'filesystem', className: 'FilesystemKVS', volatile: false, created: false },
      { name: 'cache', type: 'redis_ephemeral', className: 'EphemeralRedisKVS', volatile: true, created: false },
      { name: 'scratch', type: 'stub', className: 'InMemoryKVS', volatile: true, created: false },
      { name: 'durable', type: 'redis', className: 'PersistentRedisKVS', volatile: false, created: false },
    ]);
    expect(router.describe()[1].config).toEqual({ name: 'cache', type: 'redis_ephemeral', expiry: 30, prefix: 'c:' });
    expect(router.isVolatile('scratch')).toBe(true);
    expect(router.isVolatile('default')).toBe(false);
    router.get('scratch');
    expect(router.describe().map((b) => b.created)).toEqual([false, false, true, false]);
    await router.close();
  });

  test('Redis-typed entries are created without a running Redis (no connection until first use)', async () => {
    const router = new KVSRouter({
      kvs: {
        default: { type: 'redis', prefix: 'lo:', maxRetries: 7 },
        cache: { type: 'redis_ephemeral', expiry: 45 },
      },
      // Nothing listens on port 1: construction must not try to connect.
      redis_connection: { host: '127.0.0.1', port: 1, db: 3, connectTimeoutMs: 500 },
    });
    const durable = router.get('default');
    const cache = router.get('cache');
    expect(durable.type).toBe('redis');
    expect(cache.type).toBe('redis_ephemeral');
    expect(durable.prefix).toBe('lo:');
    expect(cache.prefix).toBe('');
    expect(cache.expiry).toBe(45);
    expect(durable.target).toBe('127.0.0.1:1/3');
    await router.close();
  });

  test('close() closes every created store and refuses further get()', async () => {
    const router = new KVSRouter(twoStubs);
    const a = router.get('default');
    const b = router.get('cache');
    await a.set('x', 1);
    await router.close();
    await expect(a.get('x')).rejects.toBeInstanceOf(StoreClosedError);
    await expect(b.get('x')).rejects.toBeInstanceOf(StoreClosedError);
    expect(() => router.get()).toThrow(StoreClosedError);
    await router.close(); // twice is fine
  });

  test('close() closes the other stores even when one fails, then reports the failure', async () => {
    const closed: string[] = [];
    registerBackendType('flaky', {
      className: 'FlakyKVS',
      schema: z.object({ fail: z.boolean().default(false) }),
      create: (config) => {
        const store = new InMemoryKVS();
        const close = store.close.bind(store);
        Object.defineProperty(store, 'close', {
          value: async () => {
            await close();
            closed.push(config.name);
            if (config.fail) throw new Error(`close of ${config.name} failed`);
          },
        });
        return store;
      },
    });
    try {
      const router = new KVSRouter({ kvs: { default: { type: 'flaky', fail: true }, b: { type: 'flaky' } } });
      router.get();
      router.get('b');
      await expect(router.close()).rejects.toThrow('close of default failed');
      expect(closed.sort()).toEqual(['b', 'default']);
    } finally {
      unregisterBackendType('flaky');
    }
  });

  test('a factory that throws is reported with the backend name', async () => {
    registerBackendType('broken', {
      className: 'BrokenKVS',
      schema: z.object({}),
      create: () => {
        throw new Error('disk on fire');
      },
    });
    try {
      const router = new KVSRouter({ kvs: { default: { type: 'broken' } } });
      expect(() => router.get()).toThrow('Could not create backend "default" (type broken): disk on fire. Check kvs.default in the settings object.');
      await router.close();
    } finally {
      unregisterBackendType('broken');
    }
  });
});

describe('custom backend types', () => {
  afterEach(() => {
    unregisterBackendType('seeded');
  });

  function registerSeeded(options: { replace?: boolean; volatile?: boolean } = {}): void {
    registerBackendType(
      'seeded',
      {
        className: 'SeededKVS',
        volatile: options.volatile,
        schema: z.object({ seed: z.record(z.string(), z.number()).default({}) }),
        create: (config, settings) => {
          const store = new InMemoryKVS();
          for (const [k, v] of Object.entries(config.seed)) void store.set(k, v);
          void store.set('__source', settings.source);
          return store;
        },
      },
      { replace: options.replace },
    );
  }

  test('register, configure and use a custom type', async () => {
    registerSeeded();
    expect(supportedBackendTypes()).toContain('seeded');
    const router = new KVSRouter({ kvs: { default: { type: 'stub' }, seeded: { type: 'seeded', seed: { a: 1, b: 2 } } } });
    const store = router.get('seeded');
    expect(await store.multiget(['a', 'b', 'c'])).toEqual([1, 2, undefined]);
    expect(await store.get('__source')).toBe('the settings object');
    expect(router.describe()[1]).toMatchObject({ name: 'seeded', type: 'seeded', className: 'SeededKVS', volatile: false });
    await router.close();
  });

  test('a custom type can declare itself volatile', () => {
    registerSeeded({ volatile: true });
    const router = new KVSRouter({ kvs: { default: { type: 'seeded' } } });
    expect(router.describe()[0].volatile).toBe(true);
  });

  test('duplicate registration is an error unless replace: true; built-ins cannot be replaced', () => {
    registerSeeded();
    const dup = thrown(() => registerSeeded());
    expect(dup).toBeInstanceOf(BackendTypeRegistrationError);
    expect(dup.message).toBe('Backend type "seeded" is already registered (class SeededKVS). Pass { replace: true } to replace it, or pick another name.');
    registerSeeded({ replace: true, volatile: true });
    expect(getBackendType('seeded')?.volatile).toBe(true);

    const builtIn = thrown(() => registerBackendType('stub', { className: 'X', schema: z.object({}), create: () => new InMemoryKVS() }, { replace: true }));
    expect(builtIn.message).toBe('"stub" is a built-in backend type and cannot be replaced; register your type under another name.');
    expect(unregisterBackendType('stub')).toBe(false);
    expect(getBackendType('stub')?.className).toBe('InMemoryKVS');
  });

  test('bad registrations are refused with a message saying what is needed', () => {
    expect(() => registerBackendType('', { className: 'X', schema: z.object({}), create: () => new InMemoryKVS() })).toThrow(
      'Backend type names start with a letter and use letters, digits, "_", "." or "-"; got "". Pick another name.',
    );
    expect(() =>
      registerBackendType('nos', { className: 'X', schema: z.string() as unknown as z.ZodObject, create: () => new InMemoryKVS() }),
    ).toThrow('Backend type "nos" needs a schema made with z.object({...})');
    expect(() => registerBackendType('typed', { className: 'X', schema: z.object({ type: z.string() }), create: () => new InMemoryKVS() })).toThrow(
      'The schema of backend type "typed" must not declare "type" or "name"; the router sets them.',
    );
    expect(supportedBackendTypes()).toEqual(['stub', 'redis_ephemeral', 'redis', 'filesystem']);
  });
});

describe('module-level KVS()', () => {
  afterEach(async () => {
    await resetKVS();
  });

  test('before configureKVS: a clear error saying what to call', () => {
    expect(isKVSConfigured()).toBe(false);
    const err = thrown(() => KVS());
    expect(err).toBeInstanceOf(KVSNotConfiguredError);
    expect(err.message).toBe(
      "KVS() was called before the key-value store was configured. Call configureKVS(settingsOrPath) first, e.g. configureKVS('creds.yaml') or configureKVS({ kvs: { default: { type: 'stub' } } }).",
    );
    expect(() => KVS.cache()).toThrow('KVS.cache() was called before the key-value store was configured. Call configureKVS(settingsOrPath) first');
    expect(() => getKVSRouter()).toThrow('getKVSRouter() was called before the key-value store was configured.');
  });

  test('after configureKVS: KVS() is the default store and KVS.<name>() a named one', async () => {
    const router = configureKVS({ kvs: { default: { type: 'stub' }, cache: { type: 'stub' }, 'with-dash': { type: 'stub' } } });
    expect(isKVSConfigured()).toBe(true);
    expect(getKVSRouter()).toBe(router);
    expect(KVS()).toBe(router.get('default'));
    expect(KVS.cache()).toBe(router.get('cache'));
    expect(KVS['with-dash']()).toBe(router.get('with-dash'));
    expect(KVS.default()).toBe(KVS());
    await KVS().set('k', 'default value');
    expect(await KVS.cache().get('k')).toBeUndefined();
    expect(await KVS()['k']).toBe('default value');

    const err = thrown(() => KVS.nope());
    expect(err).toBeInstanceOf(UnknownBackendError);
    expect(err.message).toBe(
      'No KVS backend is named "nope". Configured backends: default, cache, with-dash. Use one of those names, or add a "nope" entry under kvs in the settings object.',
    );
  });

  test('KVS is not thenable and keeps ordinary function properties', () => {
    expect((KVS as unknown as { then?: unknown }).then).toBeUndefined();
    expect(typeof KVS.call).toBe('function');
    expect(KVS.name).toBe('KVS');
  });

  test('configureKVS from a YAML path', async () => {
    const file = join(dir, 'kvs-global.yaml');
    writeFileSync(file, 'kvs:\n  default:\n    type: stub\n  other:\n    type: stub\n');
    configureKVS(file);
    expect(getKVSRouter().names()).toEqual(['default', 'other']);
    expect(getKVSRouter().settings.source).toBe(file);
  });

  test('re-configuring closes the old router; an invalid configuration keeps the current one', async () => {
    const first = configureKVS(twoStubs);
    const oldStore = KVS();
    await oldStore.set('k', 1);

    expect(() => configureKVS({ kvs: { default: { type: 'filesystem' } } })).toThrow(StartupCheck);
    expect(getKVSRouter()).toBe(first);
    expect(await KVS().get('k')).toBe(1);

    const second = configureKVS(twoStubs);
    expect(second).not.toBe(first);
    await new Promise((r) => setImmediate(r));
    await expect(oldStore.get('k')).rejects.toBeInstanceOf(StoreClosedError);
    expect(KVS()).not.toBe(oldStore);
    expect(await KVS().get('k')).toBeUndefined();

    const own = new KVSRouter(twoStubs);
    expect(configureKVS(own)).toBe(own);
    expect(getKVSRouter()).toBe(own);
  });

  test('resetKVS closes the stores and forgets the router', async () => {
    configureKVS(twoStubs);
    const store: KVStore = KVS();
    await resetKVS();
    expect(isKVSConfigured()).toBe(false);
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreClosedError);
    expect(() => KVS()).toThrow(KVSNotConfiguredError);
    await resetKVS(); // nothing configured: no error
  });
});

describe('lazy loading', () => {
  test('configuring only stub and filesystem never loads the Redis modules', async () => {
    const loaded: string[] = [];
    await jest.isolateModulesAsync(async () => {
      for (const mod of ['../src/redisConnection', '../src/backends/RedisKVSBase', '../src/backends/EphemeralRedisKVS', '../src/backends/PersistentRedisKVS', 'ioredis']) {
        jest.doMock(mod, () => {
          loaded.push(mod);
          throw new Error(`${mod} must not be loaded`);
        });
      }
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { KVSRouter: IsolatedRouter } = require('../src/KVSRouter') as typeof import('../src/KVSRouter');
      const router = new IsolatedRouter({
        kvs: { default: { type: 'filesystem', path: join(dir, 'lazy') }, scratch: { type: 'stub' }, later: { type: 'redis' } },
      });
      await router.get().set('k', 1);
      await router.get('scratch').set('k', 2);
      expect(router.typeOf('later')).toBe('redis');
      expect(router.describe().map((b) => b.className)).toEqual(['FilesystemKVS', 'InMemoryKVS', 'PersistentRedisKVS']);
      await router.close();
    });
    expect(loaded).toEqual([]);
  });
});
