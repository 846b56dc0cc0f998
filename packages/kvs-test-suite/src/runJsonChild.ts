import { spawn } from 'node:child_process';

/**
 * Runs `node script ...args` for a cross-process test: the child waits for a line on its stdin,
 * which is written once `go` resolves (so several children can be started and then released
 * together), and prints one JSON value. Resolves with that value when the child exits with 0;
 * rejects with the exit code and the child's stderr otherwise.
 *
 * @example
 * ```ts
 * let release!: () => void;
 * const go = new Promise<void>((r) => (release = r));
 * const children = [1, 2, 3].map((i) => runJsonChild<{ updates: number }>(CHILD, [String(i)], go));
 * release();
 * const results = await Promise.all(children);
 * ```
 */
export function runJsonChild<T>(script: string, args: readonly string[], go: Promise<void>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}: ${err}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`${script} printed no JSON value: ${JSON.stringify(out.slice(0, 200))}`));
      }
    });
    void go.then(() => child.stdin.end('go\n'));
  });
}
