import { createHash } from 'node:crypto';

/** Most compare-and-sets one script call carries; a larger flush is sent as several calls. */
export const CAS_ITEMS_PER_CALL = 512;
/** A flush of at least this many compare-and-sets is sent as two calls (see `compareAndSetCalls`). */
export const CAS_SPLIT_FROM = 8;
/** A script call takes no further item once its texts reach this many bytes (so any item fits). */
export const CAS_BYTES_PER_CALL = 1024 * 1024;

/** Most keys one MGET / MSET inside the script names (bounds Lua's `unpack`). */
const SCRIPT_SLICE = 500;

/**
 * Several compare-and-sets in one call, with the outcome of applying them one after the other,
 * each atomically on its own (the whole call is atomic too: Redis runs a script without
 * interleaving other commands).
 *
 * KEYS: the transactions' keys (one per item, in order), then every item's `alsoSet` keys, item
 * after item. ARGV[1]: the TTL in seconds ('0': none). ARGV[2]: a JSON array of numbers, per item
 * `n, existed, writeFirst, expectedBytes, bytes_1 .. bytes_n`: its number of keys (1 + its alsoSet
 * keys); 1 when its key existed at the read, else 0; 1 to write its key, else 0; then the byte
 * lengths of the raw value it read and of the new value of each of its keys (-1: the same text as
 * its first value). ARGV[3]: those texts, back to back, item after item (the read value, then each
 * new value; -1s omitted). Lengths, not separators, because a text may hold any byte. ARGV[4]: the
 * number of items.
 *
 * The script reads every transaction key with MGET, then decides item after item: an item whose
 * key no longer holds the text it read (a value written by an earlier item of the call counts) is
 * skipped; the others' writes are collected in order and sent at the end as MSET (SET ... EX per
 * key with a TTL), where a later write of a key wins, as it would one after the other. A key of
 * another Redis type (which MGET reads as missing) fails its item with Redis' WRONGTYPE text. A
 * refused write (out of memory, read-only replica, failed disk) can only be the first write of a
 * script (Redis lets a script that has written finish), so then nothing is written and every item
 * that would have written gets the error text. `unpack` only ever sees slices of at most
 * {@link SCRIPT_SLICE} keys, far below Lua's stack limit.
 *
 * Returns one entry per item: 1 when written, 0 when its key had changed (nothing written), or the
 * text of the error it met.
 */
export const COMPARE_AND_SET_MANY = `
local ttl = tonumber(ARGV[1])
local sizes = cjson.decode(ARGV[2])
local texts = ARGV[3]
local items = tonumber(ARGV[4])
local sub = string.sub
local SLICE = ${SCRIPT_SLICE}
local WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'

local stored = {}
for first = 1, items, SLICE do
  local got = redis.call('MGET', unpack(KEYS, first, math.min(first + SLICE - 1, items)))
  for i = 1, #got do stored[first + i - 1] = got[i] end
end

local written = {}
local writes = {}
local results = {}
local h, pos, other = 1, 1, items + 1
for item = 1, items do
  local n = sizes[h]
  local key = KEYS[item]
  local expectedLen = sizes[h + 3]
  local expected = sub(texts, pos, pos + expectedLen - 1)
  pos = pos + expectedLen
  local current = written[key]
  if current == nil then current = stored[item] end
  local result
  if not current and redis.call('EXISTS', key) == 1 then
    result = WRONGTYPE
  elseif sizes[h + 1] == 1 then
    result = (current == expected) and 1 or 0
  else
    result = current and 0 or 1
  end
  local firstValue
  for j = 1, n do
    local len = sizes[h + 3 + j]
    local value = firstValue
    if len >= 0 then
      value = sub(texts, pos, pos + len - 1)
      pos = pos + len
    end
    if j == 1 then firstValue = value end
    if result == 1 and (j > 1 or sizes[h + 2] == 1) then
      local target = key
      if j > 1 then target = KEYS[other + j - 2] end
      written[target] = value
      writes[#writes + 1] = target
      writes[#writes + 1] = value
    end
  end
  results[item] = result
  other = other + n - 1
  h = h + 4 + n
end

local function refused(reply)
  if type(reply) ~= 'table' or not reply.err then return false end
  for item = 1, items do
    if results[item] == 1 then results[item] = reply.err end
  end
  return true
end
if ttl > 0 then
  for i = 1, #writes, 2 do
    if refused(redis.pcall('SET', writes[i], writes[i + 1], 'EX', ttl)) then break end
  end
else
  for first = 1, #writes, 2 * SLICE do
    if refused(redis.pcall('MSET', unpack(writes, first, math.min(first + 2 * SLICE - 1, #writes)))) then break end
  end
end
return results
`;
export const COMPARE_AND_SET_MANY_SHA = createHash('sha1').update(COMPARE_AND_SET_MANY).digest('hex');

/**
 * One compare-and-set of a transaction, waiting for the next flush: write `values` to `keys` when
 * `keys[0]` still holds `expected`. Settled with {@link written} (1: written, 0: the key had
 * changed) or {@link failed}. Its callbacks get the item too, so that a caller issuing many can
 * pass the same two functions to every item (and keep its own data on a subclass) instead of two
 * new closures per item.
 *
 * @example
 * new PendingCompareAndSet('k', ['p:k'], null, true, ['{"n":1}'], (written) => done(written), fail);
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
    private readonly onWritten: (written: 0 | 1, item: PendingCompareAndSet) => void,
    private readonly onFailed: (err: unknown, item: PendingCompareAndSet) => void,
  ) {}

  /** The script's reply for this item: 1 when written, 0 when its key had changed. */
  written(written: 0 | 1): void {
    this.onWritten(written, this);
  }

  /** The item's command failed (or its outcome is unknown). */
  failed(err: unknown): void {
    this.onFailed(err, this);
  }

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
  /** The transactions' keys, one per item. */
  private readonly mainKeys: string[] = [];
  /** Every item's alsoSet keys, item after item. */
  private readonly otherKeys: string[] = [];
  private readonly sizes: number[] = [];
  private readonly texts: string[] = [];

  /** Adds `item` and its keys, sizes and texts. */
  add(item: PendingCompareAndSet): void {
    this.items.push(item);
    const { keys, values, expected } = item;
    this.mainKeys.push(keys[0]);
    for (let i = 1; i < keys.length; i++) this.otherKeys.push(keys[i]);
    this.sizes.push(keys.length, expected === null ? 0 : 1, item.writeFirst ? 1 : 0);
    let added = this.text(expected ?? '');
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value === undefined && i > 0) this.sizes.push(-1);
      else added += this.text(value ?? '');
    }
    this.bytes += added;
  }

  build(ttl: number): CompareAndSetCall {
    const argv = [String(ttl), `[${this.sizes.join(',')}]`, this.texts.join(''), String(this.items.length)];
    const keys = this.mainKeys.concat(this.otherKeys);
    return { items: this.items, keyCount: keys.length, args: keys.concat(argv) };
  }

  /** Adds one text and its size; returns its bytes. */
  private text(text: string): number {
    const bytes = text.length === 0 ? 0 : Buffer.byteLength(text, 'utf8');
    this.sizes.push(bytes);
    if (bytes > 0) this.texts.push(text);
    return bytes;
  }
}

/**
 * The script calls that carry `items`, in order: at most {@link CAS_ITEMS_PER_CALL} items and
 * about {@link CAS_BYTES_PER_CALL} bytes each. A flush of {@link CAS_SPLIT_FROM} items or more is
 * sent as (at least) two calls, so that Redis runs the second while this process already handles
 * the replies to the first and starts the next updates: the two work at the same time instead of
 * taking turns. Calls on one connection run in the order sent, so the outcome is the same.
 */
export function compareAndSetCalls(items: readonly PendingCompareAndSet[], ttl: number): CompareAndSetCall[] {
  const perCall = items.length >= CAS_SPLIT_FROM ? Math.min(Math.ceil(items.length / 2), CAS_ITEMS_PER_CALL) : CAS_ITEMS_PER_CALL;
  const calls: CompareAndSetCall[] = [];
  let call = new CallBuilder();
  for (const item of items) {
    if (call.items.length >= perCall || (call.items.length > 0 && call.bytes >= CAS_BYTES_PER_CALL)) {
      calls.push(call.build(ttl));
      call = new CallBuilder();
    }
    call.add(item);
  }
  if (call.items.length > 0) calls.push(call.build(ttl));
  return calls;
}
