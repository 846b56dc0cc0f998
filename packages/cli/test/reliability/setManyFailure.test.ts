/**
 * BaseKVS.setMany (used by backends that do not override it, e.g. types added with
 * registerBackendType): a failed write must not leave writes running after the call rejected,
 * and no further write starts once one failed. Found while testing issue 7, point 6.
 */
import { BaseKVS, type JsonValue, type TransactionFn, type TransactionResult } from '@learning-observer/kvs';

/** A map behind slow writes; writing key `bad` fails at once. */
class SlowMapKVS extends BaseKVS {
  readonly type = 'slow-map';
  readonly data = new Map<string, JsonValue>();
  inFlight = 0;
  started: string[] = [];
  async get(key: string) {
    return this.data.get(key);
  }
  async set(key: string, value: JsonValue) {
    this.started.push(key);
    if (key === 'bad') throw new Error('disk full');
    this.inFlight++;
    await new Promise((r) => setTimeout(r, 30));
    this.data.set(key, value);
    this.inFlight--;
  }
  async keys() {
    return [...this.data.keys()];
  }
  async multiget(keys: readonly string[]) {
    return keys.map((k) => this.data.get(k));
  }
  async remove(key: string) {
    this.data.delete(key);
  }
  async clear() {
    this.data.clear();
  }
  async transaction(key: string, fn: TransactionFn): Promise<TransactionResult> {
    return fn(this.data.get(key));
  }
  async close() {}
}

test('setMany rejects with the first error only after the writes under way ended, and starts no new one', async () => {
  const store = new SlowMapKVS();
  const entries: [string, JsonValue][] = [['a', 1], ['bad', 2], ...Array.from({ length: 40 }, (_, i) => [`k${i}`, i] as [string, JsonValue])];
  await expect(store.setMany(entries)).rejects.toThrow('disk full');
  expect(store.inFlight).toBe(0);
  // 32 workers: 'a', 'bad' and k0..k29 started in the first round; after the failure none more.
  expect(store.started).toEqual(['a', 'bad', ...Array.from({ length: 30 }, (_, i) => `k${i}`)]);
  expect(store.data.size).toBe(31);
});
