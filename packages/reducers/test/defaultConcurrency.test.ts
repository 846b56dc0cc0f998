import { FilesystemKVS, InMemoryKVS, type KVStore } from '@learning-observer/kvs';
import { ReducerPipeline, defineReducer, type ReducerOutput, type StoreRouter } from '@learning-observer/reducers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NullStore, SRC, asStore } from './helpers';

/** A store that states how many transactions it wants in flight. */
function preferring(n: number | undefined): KVStore {
  return Object.assign(asStore(new NullStore()), { preferredConcurrency: n });
}

const plain = defineReducer({ module: 'test.conc', qualname: 'plain', context: SRC, nullState: 0 }, (_e, n: number): ReducerOutput => [n + 1, n + 1]);
const other = defineReducer({ module: 'test.conc', qualname: 'other', context: SRC, nullState: 0, backend: 'other' }, (_e, n: number): ReducerOutput => [n, n]);

/** Two stores: `store` for `plain`, the router's `other` for `other`. */
function twoStores(first: KVStore, second: KVStore): ReducerPipeline {
  const router: StoreRouter = { get: (name) => (name === 'other' ? second : first) };
  return new ReducerPipeline({ modules: [plain, other], store: first, router });
}

describe("default concurrency: the stores' preference", () => {
  test("one store's preferredConcurrency is the pipeline's default; an explicit option wins", () => {
    expect(new ReducerPipeline({ modules: [plain], store: preferring(100) }).concurrency).toBe(100);
    expect(new ReducerPipeline({ modules: [plain], store: preferring(100), concurrency: 5 }).concurrency).toBe(5);
    expect(new ReducerPipeline({ modules: [plain], store: preferring(7.9) }).concurrency).toBe(7);
  });

  test('without a usable preference the default is 32', () => {
    expect(new ReducerPipeline({ modules: [plain], store: asStore(new NullStore()) }).concurrency).toBe(32);
    for (const bad of [undefined, 0, -3, Number.NaN]) {
      expect(new ReducerPipeline({ modules: [plain], store: preferring(bad) }).concurrency).toBe(32);
    }
  });

  test('in memory sets no limit: 32 alone, and the other store decides beside it', () => {
    expect(new InMemoryKVS().preferredConcurrency).toBe(Infinity);
    expect(new ReducerPipeline({ modules: [plain], store: new InMemoryKVS() }).concurrency).toBe(32);
    expect(twoStores(new InMemoryKVS(), preferring(256)).concurrency).toBe(256);
  });

  test('with several stores the least preference wins; a store without one counts as 32', () => {
    expect(twoStores(preferring(256), preferring(64)).concurrency).toBe(64);
    expect(twoStores(preferring(256), asStore(new NullStore())).concurrency).toBe(32);
    const dir = mkdtempSync(join(tmpdir(), 'lo-conc-'));
    try {
      const files = new FilesystemKVS({ path: dir });
      expect(files.preferredConcurrency).toBeUndefined(); // a member: not a read of the key
      expect(twoStores(preferring(256), files).concurrency).toBe(32);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
