import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKVStoreConformance } from '@learning-observer/kvs-test-suite';
import type { KVStore } from '../src/types';
import { FilesystemKVS } from '../src/backends/FilesystemKVS';

const root = mkdtempSync(join(tmpdir(), 'kvs-fs-conformance-'));
let counter = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

for (const subdirs of [false, true]) {
  runKVStoreConformance(
    `FilesystemKVS (subdirs: ${subdirs})`,
    async () => new FilesystemKVS({ path: join(root, `store-${++counter}`), subdirs }),
    {
      reopen: async (store: KVStore) => new FilesystemKVS({ path: (store as FilesystemKVS).folder, subdirs }),
      sibling: async () => new FilesystemKVS({ path: join(root, `store-${++counter}`), subdirs }),
      // (each transaction takes the key's file lock)
      queuedTransactions: 2_000,
    },
  );
}
