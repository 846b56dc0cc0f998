import { z } from 'zod';
import { KVSError } from './errors';
import type { KVStore } from './types';
import type { BackendConfig, Settings } from './settings';
import type { FilesystemKVS } from './backends/FilesystemKVS';
import type { InMemoryKVS } from './backends/InMemoryKVS';
import type { EphemeralRedisKVS } from './backends/EphemeralRedisKVS';
import type { PersistentRedisKVS } from './backends/PersistentRedisKVS';

/**
 * Help text attached to one settings field (through zod's `.meta()`), used to write the
 * `StartupCheck` messages: what the field is, what a valid value looks like, and an example line.
 */
export interface FieldHelp {
  /** Short description shown when the field is missing, e.g. `seconds`. */
  what?: string;
  /** What a valid value is, e.g. `a whole number of seconds greater than 0`. */
  expected: string;
  /** A line to put in `creds.yaml`, e.g. `expiry: 30`. */
  example: string;
}

/**
 * Attaches {@link FieldHelp} to a zod field schema so settings errors about it say what to write.
 * Use it on the fields of a custom backend type's schema too.
 *
 * @example
 * const schema = z.object({
 *   bucket: describeField(z.string().min(1), { what: 'S3 bucket name', expected: 'a bucket name', example: 'bucket: lo-state' }),
 * });
 */
export function describeField<T extends z.ZodType>(schema: T, help: FieldHelp): T {
  return schema.meta({ description: help.expected, ...help }) as T;
}

/** The {@link FieldHelp} attached to a field schema with {@link describeField}, if any. */
export function fieldHelpOf(schema: unknown): FieldHelp | undefined {
  if (!schema || typeof (schema as { meta?: unknown }).meta !== 'function') return undefined;
  const meta = (schema as z.ZodType).meta() as Partial<FieldHelp> | undefined;
  if (!meta || typeof meta.expected !== 'string' || typeof meta.example !== 'string') return undefined;
  return meta as FieldHelp;
}

/** `prefix` of the Redis backend types. */
const prefixField = describeField(z.string().optional(), {
  what: 'namespace for this store\'s Redis keys',
  expected: 'a string that starts every key of this store in Redis',
  example: 'prefix: "lo:state:"',
});

/** `maxRetries` of the Redis backend types. */
const maxRetriesField = describeField(z.number().int().positive().optional(), {
  what: 'compare-and-set attempts before a ConflictError',
  expected: 'a whole number greater than 0',
  example: 'maxRetries: 50',
});

/** Fields of a `stub` entry (none besides `type`). */
export const stubEntrySchema = z.object({});

/** Fields of a `filesystem` entry: `path` (required) and `subdirs` (default `false`). */
export const filesystemEntrySchema = z.object({
  path: describeField(z.string().min(1), {
    what: 'the folder that holds one JSON file per key',
    expected: 'a folder path (a non-empty string)',
    example: 'path: .lo_kvs',
  }),
  subdirs: describeField(z.boolean().default(false), {
    what: 'split keys on "/" into folders',
    expected: 'true or false',
    example: 'subdirs: true',
  }),
});

/** Fields of a `redis_ephemeral` entry: `expiry` in seconds (required), `prefix`, `maxRetries`. */
export const redisEphemeralEntrySchema = z.object({
  expiry: describeField(z.number().int().positive(), {
    what: 'seconds',
    expected: 'a whole number of seconds greater than 0',
    example: 'expiry: 30',
  }),
  prefix: prefixField,
  maxRetries: maxRetriesField,
});

/** Fields of a `redis` (persistent) entry: `prefix`, `maxRetries`. */
export const redisEntrySchema = z.object({
  prefix: prefixField,
  maxRetries: maxRetriesField,
});

/** A validated backend entry: its name, its type and the fields its type's schema produced. */
export type BackendEntry<Fields> = Fields & { readonly name: string; readonly type: string };

/** A validated `filesystem` entry. */
export type FilesystemBackendConfig = BackendEntry<z.output<typeof filesystemEntrySchema>>;
/** A validated `redis_ephemeral` entry. */
export type RedisEphemeralBackendConfig = BackendEntry<z.output<typeof redisEphemeralEntrySchema>>;
/** A validated `redis` entry. */
export type RedisBackendConfig = BackendEntry<z.output<typeof redisEntrySchema>>;

/**
 * How to build one backend type: the class name shown by `describe()`, the zod schema of the
 * entry's own fields (everything except `type`), and a factory.
 */
export interface BackendTypeDefinition<S extends z.ZodObject = z.ZodObject> {
  /** Name of the class `create` returns, e.g. `FilesystemKVS` (shown by `lo config check`). */
  className: string;
  /**
   * A `z.object` of the entry's fields, without `type`. Fields not in its shape are reported as
   * unknown. Use {@link describeField} on fields for better error messages.
   */
  schema: S;
  /**
   * Builds the store from a validated entry. Called once per backend name, on first use. It must
   * not block on the network: connect lazily, on the first operation.
   */
  create(config: BackendEntry<z.output<S>>, settings: Settings): KVStore;
  /** True when data is lost on restart (like `stub` and `redis_ephemeral`). Default false. */
  volatile?: boolean;
}

/** A registered backend type (see {@link registerBackendType}). */
export interface RegisteredBackendType extends BackendTypeDefinition<z.ZodObject> {
  /** The type name used in settings (`type: <name>`). */
  readonly type: string;
  /** True for the four types that ship with the package. */
  readonly builtIn: boolean;
  readonly volatile: boolean;
}

/** A backend type registration was refused (duplicate name, bad name, bad definition). */
export class BackendTypeRegistrationError extends KVSError {}

const registry = new Map<string, RegisteredBackendType>();

/** Loads a Redis backend module only when a Redis store is actually created (keeps ioredis unloaded otherwise). */
function loadEphemeralRedis(): typeof EphemeralRedisKVS {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./backends/EphemeralRedisKVS') as typeof import('./backends/EphemeralRedisKVS')).EphemeralRedisKVS;
}

function loadPersistentRedis(): typeof PersistentRedisKVS {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./backends/PersistentRedisKVS') as typeof import('./backends/PersistentRedisKVS')).PersistentRedisKVS;
}

function loadInMemory(): typeof InMemoryKVS {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./backends/InMemoryKVS') as typeof import('./backends/InMemoryKVS')).InMemoryKVS;
}

function loadFilesystem(): typeof FilesystemKVS {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./backends/FilesystemKVS') as typeof import('./backends/FilesystemKVS')).FilesystemKVS;
}

/** Keeps only the fields that are set, so backends apply their own defaults. */
function defined<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function addBuiltIn<S extends z.ZodObject>(type: string, def: BackendTypeDefinition<S>): void {
  registry.set(type, { ...(def as unknown as BackendTypeDefinition), type, builtIn: true, volatile: def.volatile ?? false });
}

// Order as in the original's list of supported types.
addBuiltIn('stub', {
  className: 'InMemoryKVS',
  schema: stubEntrySchema,
  volatile: true,
  create: () => new (loadInMemory())(),
});
addBuiltIn('redis_ephemeral', {
  className: 'EphemeralRedisKVS',
  schema: redisEphemeralEntrySchema,
  volatile: true,
  create: (config, settings) =>
    new (loadEphemeralRedis())({
      expiry: config.expiry,
      ...defined({ prefix: config.prefix, maxRetries: config.maxRetries }),
      connection: { ...settings.redis_connection },
    }),
});
addBuiltIn('redis', {
  className: 'PersistentRedisKVS',
  schema: redisEntrySchema,
  create: (config, settings) =>
    new (loadPersistentRedis())({
      ...defined({ prefix: config.prefix, maxRetries: config.maxRetries }),
      connection: { ...settings.redis_connection },
    }),
});
addBuiltIn('filesystem', {
  className: 'FilesystemKVS',
  schema: filesystemEntrySchema,
  create: (config) => new (loadFilesystem())({ path: config.path, subdirs: config.subdirs }),
});

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/**
 * Registers a custom backend type, usable in settings as `type: <type>`. Register it before the
 * settings are loaded (`loadSettings`, `new KVSRouter`, `configureKVS`). Registering a name that
 * exists is an error unless `{ replace: true }` is given; built-in types cannot be replaced.
 *
 * Check a custom store with the conformance suite: `runKVStoreConformance` from
 * `@learning-observer/kvs-test-suite`.
 *
 * @example
 * registerBackendType('memory_with_seed', {
 *   className: 'SeededKVS',
 *   schema: z.object({ seed: z.record(z.string(), z.unknown()).default({}) }),
 *   volatile: true,
 *   create: (config) => new SeededKVS(config.seed),
 * });
 * const router = new KVSRouter({ kvs: { default: { type: 'memory_with_seed', seed: { a: 1 } } } });
 */
export function registerBackendType<S extends z.ZodObject>(
  type: string,
  definition: BackendTypeDefinition<S>,
  options: { replace?: boolean } = {},
): void {
  if (typeof type !== 'string' || !TYPE_NAME.test(type)) {
    throw new BackendTypeRegistrationError(
      `Backend type names start with a letter and use letters, digits, "_", "." or "-"; got ${JSON.stringify(type)}. Pick another name.`,
    );
  }
  const existing = registry.get(type);
  if (existing?.builtIn) {
    throw new BackendTypeRegistrationError(`"${type}" is a built-in backend type and cannot be replaced; register your type under another name.`);
  }
  if (existing && !options.replace) {
    throw new BackendTypeRegistrationError(
      `Backend type "${type}" is already registered (class ${existing.className}). Pass { replace: true } to replace it, or pick another name.`,
    );
  }
  if (!definition || typeof definition.create !== 'function') {
    throw new BackendTypeRegistrationError(`Backend type "${type}" needs a create(config, settings) function that returns the store.`);
  }
  if (typeof definition.className !== 'string' || definition.className.length === 0) {
    throw new BackendTypeRegistrationError(`Backend type "${type}" needs a className (the name of the class create() returns).`);
  }
  const schema = definition.schema as unknown;
  if (
    !schema ||
    typeof (schema as z.ZodObject).safeParse !== 'function' ||
    typeof (schema as z.ZodObject).shape !== 'object' ||
    (schema as z.ZodObject).shape === null
  ) {
    throw new BackendTypeRegistrationError(
      `Backend type "${type}" needs a schema made with z.object({...}) describing the entry's fields (without "type"); use z.object({}) when there are none.`,
    );
  }
  if ('type' in (schema as z.ZodObject).shape || 'name' in (schema as z.ZodObject).shape) {
    throw new BackendTypeRegistrationError(`The schema of backend type "${type}" must not declare "type" or "name"; the router sets them.`);
  }
  registry.set(type, {
    ...(definition as unknown as BackendTypeDefinition),
    type,
    builtIn: false,
    volatile: definition.volatile ?? false,
  });
}

/**
 * Removes a custom backend type (built-in types stay). Returns whether it was registered.
 * Mostly for tests.
 *
 * @example
 * afterEach(() => unregisterBackendType('memory_with_seed'));
 */
export function unregisterBackendType(type: string): boolean {
  const existing = registry.get(type);
  if (!existing || existing.builtIn) return false;
  return registry.delete(type);
}

/**
 * Every backend type settings may use: the built-ins (`stub`, `redis_ephemeral`, `redis`,
 * `filesystem`) then custom types in registration order.
 *
 * @example
 * supportedBackendTypes(); // ['stub', 'redis_ephemeral', 'redis', 'filesystem']
 */
export function supportedBackendTypes(): string[] {
  return [...registry.keys()];
}

/**
 * The registration of a backend type, or `undefined` when none has that name.
 *
 * @example
 * getBackendType('filesystem')?.className; // 'FilesystemKVS'
 */
export function getBackendType(type: string): RegisteredBackendType | undefined {
  return registry.get(type);
}

/** Creates the store of one validated entry (used by the router). */
export function createBackend(config: BackendConfig, settings: Settings): KVStore {
  const def = registry.get(config.type);
  if (!def) {
    throw new BackendTypeRegistrationError(
      `Backend "${config.name}" has type "${config.type}", which is no longer registered. Register it again with registerBackendType before using the router.`,
    );
  }
  return def.create(config as BackendEntry<Record<string, unknown>>, settings);
}
