import { createHash } from 'node:crypto';

/** Most compare-and-sets one script call carries; a larger flush is sent as several calls. */
export const CAS_ITEMS_PER_CALL = 512;
/** Most bytes of values one script call carries (a single larger item still goes, alone). */
export const CAS_BYTES_PER_CALL = 1024 * 1024;

/**
 * Several compare-and-sets in one call, applied one after the other, each atomically on its own
 * (the whole call is atomic too: Redis runs a script without interleaving other commands).
 *
 * KEYS: every item's keys, item after item (its transaction's key, then its `alsoSet` keys).
 * ARGV[1]: the TTL in seconds ('0': none). ARGV[2]: a JSON array of numbers, per item
 * `n, existed, writeFirst, expectedBytes, bytes_1 .. bytes_n`: its number of keys; 1 when its key
 * existed at the read, else 0; 1 to write its key, else 0; then the byte lengths of the raw value it
 * read and of the new value of each of its keys (-1: the same text as its first value). ARGV[3]:
 * those texts, back to back, item after item (the read value, then each new value, -1s omitted).
 * Lengths instead of separators, because any text may hold any byte.
 *
 * Returns one entry per item: 1 when written, 0 when its key had changed (nothing written), or the
 * error text of the command that failed for it. Commands run through `redis.pcall`, so an error
 * (a key of another Redis type) stops only its own item. The script walks its tables by index and
 * never calls `unpack`, so any number of items fits Lua's stack.
 */
export const COMPARE_AND_SET_MANY = `
local ttl = tonumber(ARGV[1])
local sizes = cjson.decode(ARGV[2])
local texts = ARGV[3]
local sub = string.sub
local function failure(reply)
  if type(reply) == 'table' and reply.err then return reply.err end
  return nil
end
local function put(key, value)
  if ttl > 0 then return failure(redis.pcall('SET', key, value, 'EX', ttl)) end
  return failure(redis.pcall('SET', key, value))
end
-- One item: its keys start at KEYS[k], its sizes at sizes[h], its new values at texts[pos].
local function apply(k, h, expected, pos)
  local current = redis.pcall('GET', KEYS[k])
  local err = failure(current)
  if err then return err end
  if sizes[h + 1] == 1 then
    if current ~= expected then return 0 end
  elseif current then
    return 0
  end
  local first
  for j = 1, sizes[h] do
    local len = sizes[h + 3 + j]
    local value = first
    if len >= 0 then
      value = sub(texts, pos, pos + len - 1)
      pos = pos + len
    end
    if j == 1 then first = value end
    if j > 1 or sizes[h + 2] == 1 then
      err = put(KEYS[k + j - 1], value)
      if err then return err end
    end
  end
  return 1
end
local results = {}
local h, k, pos = 1, 1, 1
while h <= #sizes do
  local n = sizes[h]
  local expectedLen = sizes[h + 3]
  local expected = sub(texts, pos, pos + expectedLen - 1)
  pos = pos + expectedLen
  results[#results + 1] = apply(k, h, expected, pos)
  for j = 1, n do
    local len = sizes[h + 3 + j]
    if len > 0 then pos = pos + len end
  end
  k = k + n
  h = h + 4 + n
end
return results
`;
export const COMPARE_AND_SET_MANY_SHA = createHash('sha1').update(COMPARE_AND_SET_MANY).digest('hex');

/**
 * One compare-and-set of a transaction, waiting for the next flush: write `values` to `keys` when
 * `keys[0]` still holds `expected`. Settled with 1 (written) or 0 (the key had changed).
 */
export class PendingCompareAndSet {
  constructor(
    /** The store's key of the transaction (for messages). */
    readonly key: string,
    /** Redis keys: the transaction's key, then its `alsoSet` keys. */
    readonly keys: readonly string[],
    /** The raw value the transaction read, or `null` when the key did not exist. */
    readonly expected: string | null,
    /** Whether to write `keys[0]` (a transaction without `value` writes only its `alsoSet` keys). */
    readonly writeFirst: boolean,
    /** The new raw value of each key; `undefined` after the first: the same text as the first. */
    readonly values: readonly (string | undefined)[],
    readonly resolve: (written: 0 | 1) => void,
    readonly reject: (err: unknown) => void,
  ) {}

  /** Names the update in messages. */
  get what(): string {
    return `update of ${JSON.stringify(this.key)}`;
  }
}

/** One script call: its items and the EVALSHA arguments after the SHA. */
export interface CompareAndSetCall {
  items: PendingCompareAndSet[];
  keyCount: number;
  /** KEYS, then ARGV. */
  args: string[];
}

/** Collects the items of one call and its arguments (see {@link COMPARE_AND_SET_MANY}). */
class CallBuilder {
  readonly items: PendingCompareAndSet[] = [];
  bytes = 0;
  private readonly keys: string[] = [];
  private readonly sizes: number[] = [];
  private readonly texts: string[] = [];

  /** Adds `item`; returns the bytes of text it added. */
  add(item: PendingCompareAndSet): number {
    this.items.push(item);
    const { keys, values, expected } = item;
    for (let i = 0; i < keys.length; i++) this.keys.push(keys[i]);
    this.sizes.push(keys.length, expected === null ? 0 : 1, item.writeFirst ? 1 : 0);
    let added = this.text(expected ?? '');
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value === undefined && i > 0) this.sizes.push(-1);
      else added += this.text(value ?? '');
    }
    this.bytes += added;
    return added;
  }

  build(ttl: number): CompareAndSetCall {
    const argv = [String(ttl), `[${this.sizes.join(',')}]`, this.texts.join('')];
    return { items: this.items, keyCount: this.keys.length, args: this.keys.concat(argv) };
  }

  private text(text: string): number {
    const bytes = text.length === 0 ? 0 : Buffer.byteLength(text, 'utf8');
    this.sizes.push(bytes);
    if (bytes > 0) this.texts.push(text);
    return bytes;
  }
}

/**
 * The script calls that carry `items`, in order: at most {@link CAS_ITEMS_PER_CALL} items and
 * about {@link CAS_BYTES_PER_CALL} bytes each.
 */
export function compareAndSetCalls(items: readonly PendingCompareAndSet[], ttl: number): CompareAndSetCall[] {
  const calls: CompareAndSetCall[] = [];
  let call = new CallBuilder();
  for (const item of items) {
    if (call.items.length >= CAS_ITEMS_PER_CALL || (call.items.length > 0 && call.bytes >= CAS_BYTES_PER_CALL)) {
      calls.push(call.build(ttl));
      call = new CallBuilder();
    }
    call.add(item);
  }
  if (call.items.length > 0) calls.push(call.build(ttl));
  return calls;
}
