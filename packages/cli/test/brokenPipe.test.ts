/**
 * `lo ... | head`: when the reader of stdout goes away before lo has written everything, lo stops
 * quietly with its exit code, as other command-line tools do, instead of dying on an unhandled
 * EPIPE error with a stack trace.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FilesystemKVS } from '@learning-observer/kvs';
import { EXIT } from '../src';
import { STACK_LINE, tempDir } from './helpers';

const BIN = path.join(__dirname, '..', 'bin', 'lo.js');

test('a reader that stops after the first chunk (`lo kvs keys | head -1`): exit 0, no EPIPE, no stack trace', async () => {
  const dir = tempDir('lo-pipe-');
  try {
    // The built-in default store of a folder without settings: .lo_kvs in the working directory.
    const store = new FilesystemKVS({ path: path.join(dir, '.lo_kvs') });
    await store.setMany(Array.from({ length: 3000 }, (_, i): [string, number] => [`key-${i}-${'x'.repeat(100)}`, i]));
    await store.close();
    const { code, err, sawOutput } = await new Promise<{ code: number | null; err: string; sawOutput: boolean }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'kvs', 'keys'], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let seen = false;
      child.stdout.once('data', () => {
        seen = true;
        child.stdout.destroy(); // the reader goes away, as `head -1` does
      });
      child.stderr.on('data', (c) => (stderr += c));
      child.on('error', reject);
      child.on('close', (exitCode) => resolve({ code: exitCode, err: stderr, sawOutput: seen }));
    });
    expect(sawOutput).toBe(true);
    expect(err).not.toContain('EPIPE');
    expect(err).not.toMatch(STACK_LINE);
    expect(code).toBe(EXIT.OK);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
