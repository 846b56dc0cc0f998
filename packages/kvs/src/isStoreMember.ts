/**
 * The `KVStore` API: `store[name]` gives the member for these, never a stored value. (`setMany`,
 * `eagerTransaction`, `transactionWithCallbacks` and `preferredConcurrency` are optional: `undefined` on a backend without them.)
 */
export const KVSTORE_API_NAMES: readonly string[] = Object.freeze([
  'type',
  'get',
  'set',
  'keys',
  'multiget',
  'remove',
  'clear',
  'dump',
  'load',
  'update',
  'transaction',
  'setMany',
  'eagerTransaction',
  'transactionWithCallbacks',
  'preferredConcurrency',
  'close',
]);

/**
 * Names runtimes and tools look up on any object (`await` looks up `then`; promise helpers,
 * JSON, inspectors and Jest look up the others). `store[name]` gives the member (usually
 * `undefined`), never a stored value.
 */
export const RUNTIME_PROBED_NAMES: readonly string[] = Object.freeze([
  'then',
  'catch',
  'finally',
  'toJSON',
  'inspect',
  'asymmetricMatch',
  '$$typeof',
  'nodeType',
]);

/** `constructor`, `toString`, `valueOf`, `hasOwnProperty`, `__proto__`... */
const OBJECT_PROTOTYPE_NAMES: readonly string[] = Object.getOwnPropertyNames(Object.prototype);

const FIXED_MEMBERS: ReadonlySet<string> = new Set([...KVSTORE_API_NAMES, ...RUNTIME_PROBED_NAMES, ...OBJECT_PROTOTYPE_NAMES]);

/**
 * Whether `store[name]` gives a member of the store (rather than reading the key `name`): the
 * {@link KVSTORE_API_NAMES}, the backend's documented public members (`publicMembers`, e.g.
 * `prefix`), the {@link RUNTIME_PROBED_NAMES} and the names of `Object.prototype`. Every other
 * name reads a key, even when the instance has a private field or method of that name.
 *
 * @example
 * isStoreMember('keys', new Set(['prefix']));   // true
 * isStoreMember('prefix', new Set(['prefix'])); // true
 * isStoreMember('data', new Set(['prefix']));   // false: store['data'] reads the key "data"
 */
export function isStoreMember(name: string, publicMembers: ReadonlySet<string>): boolean {
  return FIXED_MEMBERS.has(name) || publicMembers.has(name);
}
