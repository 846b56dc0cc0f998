/**
 * Options shared by every command (`--json`) and the internal-error exit code (70).
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { EXIT, buildProgram, captureIO, main } from '../src';
import { STACK_LINE, lo, tempDir, writeFile } from './helpers';

let dir: string;
beforeAll(() => {
  dir = tempDir('lo-cli-options-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The runnable commands (those without subcommands), as argument lists: [['replay'], ['kvs', 'get'], ...]. */
function leafCommands(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return sub.commands.length === 0 ? [path] : leafCommands(sub, path);
  });
}

describe('--json on every command', () => {
  const commands = leafCommands(buildProgram({ io: captureIO(), exitCode: EXIT.OK }));

  test('the command tree is the one the README documents', () => {
    expect(commands.map((c) => c.join(' ')).sort()).toEqual(
      ['config check', 'demo', 'kvs clear', 'kvs dump', 'kvs get', 'kvs keys', 'kvs load', 'replay', 'sample'],
    );
  });

  test.each(commands.map((c) => [c.join(' '), c]))('lo %s --help lists --json', async (_name, args) => {
    const r = await lo([...(args as string[]), '--help'], { cwd: dir });
    expect(r.code).toBe(EXIT.OK);
    expect(r.out).toMatch(/^\s+--json\s/m);
  });

  test('lo kvs get <key> --json prints the value as JSON, exactly as without --json', async () => {
    const key = 'External,lo_toy_sba.reducers.student_event_counter,STUDENT:s1';
    const cwd = tempDir('lo-cli-get-json-');
    try {
      writeFile(cwd, 'seed.json', JSON.stringify({ [key]: { count: 3, names: ['a', 'b'] } }));
      expect((await lo(['kvs', 'load', 'seed.json'], { cwd })).code).toBe(EXIT.OK);

      const plain = await lo(['kvs', 'get', key], { cwd });
      const json = await lo(['kvs', 'get', key, '--json'], { cwd });
      expect([json.code, json.err]).toEqual([EXIT.OK, '']);
      expect(JSON.parse(json.out)).toEqual({ count: 3, names: ['a', 'b'] });
      expect(json.out).toBe(plain.out);

      const missing = await lo(['kvs', 'get', 'External,nope,STUDENT:x', '--json'], { cwd });
      expect(missing.code).toBe(EXIT.FAILURES);
      expect(missing.out).toBe('');
      expect(missing.err).toContain('no key "External,nope,STUDENT:x"');
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('exit code 70: an unexpected error', () => {
  /** A captured IO whose stdout throws `thrown` on the first write (a bug anywhere in a command). */
  function brokenStdout(thrown: unknown) {
    const io = captureIO({ cwd: dir });
    io.stdout = {
      write: () => {
        throw thrown;
      },
    };
    return io;
  }

  test('a plain Error is reported as an internal error with its stack trace', async () => {
    const io = brokenStdout(new Error('stdout exploded'));
    const code = await main(['config', 'check'], io);
    expect(code).toBe(EXIT.INTERNAL);
    expect(code).toBe(70);
    expect(io.err()).toMatch(/^lo: internal error \(please report it\): Error: stdout exploded\n/);
    expect(io.err()).toMatch(STACK_LINE);
  });

  test('a thrown non-Error value is printed as text, still exit 70', async () => {
    const io = brokenStdout('not an Error');
    expect(await main(['config', 'check', '--json'], io)).toBe(EXIT.INTERNAL);
    expect(io.err()).toBe('lo: internal error (please report it): not an Error\n');
  });

  test('an expected error never exits 70 and prints no stack (contrast)', async () => {
    const r = await lo(['kvs', 'clear'], { cwd: dir });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.err).not.toMatch(STACK_LINE);
  });
});
