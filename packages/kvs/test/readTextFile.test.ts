import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTextFile } from '../src/fs/readTextFile';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kvs-read-text-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('readTextFile', () => {
  test('returns the whole file as UTF-8 text, past the first read of a large file', async () => {
    const big = `{"text":"${'é✓x'.repeat(100_000)}"}`; // about 600 KB: several reads
    writeFileSync(join(root, 'big'), big, 'utf8');
    writeFileSync(join(root, 'empty'), '');
    await expect(readTextFile(join(root, 'big'))).resolves.toBe(big);
    await expect(readTextFile(join(root, 'empty'))).resolves.toBe('');
  });

  test('rejects with the file system error and its code, as fs.promises.readFile does', async () => {
    mkdirSync(join(root, 'folder'));
    await expect(readTextFile(join(root, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readTextFile(join(root, 'folder'))).rejects.toMatchObject({ code: 'EISDIR' });
  });
});
