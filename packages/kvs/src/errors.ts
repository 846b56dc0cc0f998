/**
 * Base class of every error thrown by `@learning-observer/kvs`. Messages say what to do.
 */
export class KVSError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A key that is not a non-empty string. */
export class InvalidKeyError extends KVSError {}

/** A value that is not JSON (undefined, function, BigInt, symbol, NaN/Infinity, cycle, class instance...). */
export class InvalidValueError extends KVSError {
  constructor(
    readonly key: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(
      `Cannot store key ${JSON.stringify(key)}: the value at ${path} ${reason}. ` +
        'Only JSON values (null, booleans, finite numbers, strings, arrays and plain objects) can be stored; convert it first.',
    );
  }
}

/** `update`/`transaction` gave up after its retries because other writers kept changing the key. */
export class ConflictError extends KVSError {
  constructor(
    readonly key: string,
    readonly attempts: number,
  ) {
    super(
      `Gave up updating key ${JSON.stringify(key)} after ${attempts} attempts: other writers kept changing it. ` +
        'Raise the backend\'s `maxRetries`, or reduce the number of concurrent writers of this key.',
    );
  }
}

/** The backing storage could not be reached or answered too slowly (Redis down, timeout). */
export class StoreUnavailableError extends KVSError {}

/** Writing to the backing storage failed (disk full, permissions...); the previous value is intact. */
export class StoreWriteError extends KVSError {}

/** A stored value is not valid JSON (a file edited by hand, a foreign Redis key...). */
export class CorruptValueError extends KVSError {}

/** The store was used after `close()`. */
export class StoreClosedError extends KVSError {}

/**
 * `clear()` on a Redis store without a `prefix`: it would remove every key of the db, other
 * programs' included, so it refused and removed nothing.
 *
 * @example
 * try {
 *   await new PersistentRedisKVS().clear();
 * } catch (err) {
 *   if (err instanceof UnscopedClearError) console.error(err.message); // says to set `prefix`
 * }
 */
export class UnscopedClearError extends KVSError {
  constructor(
    /** Backend type (`redis`, `redis_ephemeral`). */
    readonly type: string,
    /** `host:port/db` of the database. */
    readonly target: string,
  ) {
    super(
      `Refusing to clear this ${type} store: it has no prefix, so clear() would remove every key of Redis db ${target}, ` +
        'including keys of other programs and stores. Set "prefix:" for this backend in creds.yaml (e.g. prefix: "lo:"; ' +
        'keys written without a prefix then stay where they are), or, if that db belongs to this store alone, ' +
        'call clear({ wholeDatabase: true }).',
    );
  }
}

/** No backend with that name is configured in the router. */
export class UnknownBackendError extends KVSError {}
