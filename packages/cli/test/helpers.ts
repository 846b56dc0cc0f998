import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { captureIO, main } from '../src';

/** Runs `lo <args>` in-process with captured output. */
export async function lo(args: string[], options: { cwd: string; env?: Record<string, string> }) {
  const io = captureIO({ cwd: options.cwd, env: options.env ?? {} });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** A fresh temporary directory (removed by the caller's `cleanup`). */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes a file under `dir` and returns its path. */
export function writeFile(dir: string, name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

/** A stack-trace line, which expected errors must never print. */
export const STACK_LINE = /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;
