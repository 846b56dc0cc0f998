import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EphemeralRedisKVS, FilesystemKVS, InMemoryKVS, PersistentRedisKVS, type KVStore } from '@learning-observer/kvs';

describe('preferredConcurrency (a hint for callers that run many transactions)', () => {
  test('Redis stores prefer 256 in flight, in memory sets no limit, the filesystem states none', async () => {
    // Constructing a Redis store does not connect: no server is needed to read the hint.
    const persistent = new PersistentRedisKVS({ prefix: 'p:', connection: { port: 1 } });
    const ephemeral = new EphemeralRedisKVS({ prefix: 'e:', expiry: 60, connection: { port: 1 } });
    const dir = mkdtempSync(join(tmpdir(), 'lo-pc-'));
    try {
      const files = new FilesystemKVS({ path: dir });
      const stores: [KVStore, number | undefined][] = [
        [persistent, 256],
        [ephemeral, 256],
        [new InMemoryKVS(), Infinity],
        [files, undefined],
      ];
      for (const [store, expected] of stores) {
        expect(store.preferredConcurrency).toBe(expected);
        // A member name: `store[name]` never reads a key of that name (no Promise).
        expect(store['preferredConcurrency']).toBe(expected);
      }
      await files.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await persistent.close();
      await ephemeral.close();
    }
  });
});
