/**
 * Issue 7, point 7: bad settings (malformed YAML, wrong types, unknown backend type, missing
 * fields) are all listed by the startup check, `lo` exits with code 3 (EXIT.CONFIG, documented in
 * packages/cli/README.md and `lo --help`) and prints no stack trace: in-process through `main()`
 * and through the built `bin/lo.js` in a child process, for every command that loads settings.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXIT } from '../../src';
import { lo, STACK_LINE, tempDir, writeFile } from '../helpers';

const BIN = path.join(__dirname, '..', '..', 'bin', 'lo.js');
const DIST_MAIN = path.join(__dirname, '..', '..', 'dist', 'main.js');

/** Each bad settings file, with the exact `path` of every problem the check must report. */
const CASES: { name: string; yaml: string; paths: string[]; mention: string[] }[] = [
  { name: 'malformed YAML', yaml: 'kvs:\n  default: {type: stub\n', paths: ['creds.yaml:3:1'], mention: ['malformed YAML at line 3, column 1'] },
  { name: 'a list instead of a mapping', yaml: '- 1\n- 2\n', paths: ['creds.yaml'], mention: ['got a list'] },
  { name: 'an empty file', yaml: '', paths: ['creds.yaml'], mention: ['the file is empty'] },
  { name: 'kvs is a number', yaml: 'kvs: 5\n', paths: ['kvs'], mention: ['got 5 (a number)'] },
  { name: 'no default backend', yaml: 'kvs:\n  x:\n    type: stub\n', paths: ['kvs.default'], mention: ['no backend is named "default"'] },
  {
    name: 'wrong types, unknown backend type, missing and unknown fields, all at once',
    yaml: [
      'kvs:',
      '  default:',
      '    type: filesystem',
      '    path: 5',
      '    subdirs: "yes"',
      '  cache:',
      '    type: redis_ephemeral',
      '    expiry: "ten"',
      '  nocache:',
      '    type: redis_ephemeral',
      '  weird:',
      '    type: mongo',
      '  files:',
      '    type: filesystem',
      '    colour: red',
      '  seven: 7',
      'redis_connection:',
      '  port: 99999',
      '  db: -1',
      '  host: [1]',
      '',
    ].join('\n'),
    paths: [
      'kvs.default.path',
      'kvs.default.subdirs',
      'kvs.cache.expiry',
      'kvs.nocache.expiry',
      'kvs.weird.type',
      'kvs.files.colour',
      'kvs.files.path',
      'kvs.seven',
      'redis_connection.host',
      'redis_connection.port',
      'redis_connection.db',
    ],
    mention: ['unknown backend type "mongo"', 'must be true or false', 'must be a whole number from 1 to 65535'],
  },
];

/** Commands that load the settings before doing anything else. */
function commandsFor(dir: string): string[][] {
  const log = path.join(dir, 'one.jsonl');
  return [
    ['config', 'check'],
    ['replay', log, '--no-progress'],
    ['kvs', 'keys'],
    ['kvs', 'get', 'k'],
    ['kvs', 'dump'],
    ['kvs', 'clear', '--yes'],
    ['demo', '--no-progress'],
  ];
}

let root: string;
beforeAll(() => {
  root = tempDir('lo-badcfg-');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function setUp(name: string, yaml: string): { dir: string; file: string } {
  const dir = path.join(root, name.replace(/[^a-z]+/g, '-'));
  fs.mkdirSync(dir, { recursive: true });
  writeFile(dir, 'one.jsonl', '{"client":{"event":"x"}}\n');
  return { dir, file: writeFile(dir, 'creds.yaml', yaml) };
}

function countProblems(text: string): number {
  const m = /\((\d+) problems?; fix each line below\)/.exec(text);
  return m ? Number(m[1]) : -1;
}

describe.each(CASES)('$name', ({ name, yaml, paths, mention }) => {
  test('config check --json lists exactly these problems; the text lists every one; exit 3, no stack trace', async () => {
    const { dir, file } = setUp(name, yaml);
    const j = await lo(['config', 'check', '--config', file, '--json'], { cwd: dir });
    expect(j.code).toBe(EXIT.CONFIG);
    const report = JSON.parse(j.out) as { ok: boolean; issues: { path: string; message: string }[] };
    expect(report.ok).toBe(false);
    expect(report.issues.map((i) => i.path).sort()).toEqual([...paths].sort());

    const t = await lo(['config', 'check', '--config', file], { cwd: dir });
    expect(t.code).toBe(EXIT.CONFIG);
    expect(countProblems(t.out)).toBe(paths.length);
    for (const p of paths) expect(t.out).toMatch(new RegExp(`^  ${p.replace(/\./g, '\\.')}: `, 'm'));
    for (const m of mention) expect(t.out).toContain(m);
    expect(t.out + t.err).not.toMatch(STACK_LINE);
  });

  test('every command that loads settings (found as ./creds.yaml) exits 3 with the same problem count, no stack trace', async () => {
    const { dir } = setUp(name, yaml);
    for (const args of commandsFor(dir)) {
      const r = await lo(args, { cwd: dir });
      expect([args.join(' '), r.code]).toEqual([args.join(' '), EXIT.CONFIG]);
      expect([args.join(' '), countProblems(r.out + r.err)]).toEqual([args.join(' '), paths.length]);
      expect(r.out + r.err).not.toMatch(STACK_LINE);
    }
    // Nothing was created next to the settings: no store folder, no default ./.lo_kvs.
    expect(fs.readdirSync(dir).sort()).toEqual(['creds.yaml', 'one.jsonl']);
  });
});

/** Runs the built `lo` in a child process. */
function runBin(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err, ms: Date.now() - started }));
  });
}

describe('the built `lo` binary (child process)', () => {
  beforeAll(() => {
    if (!fs.existsSync(DIST_MAIN)) {
      throw new Error(`${DIST_MAIN} is missing: these tests run the built CLI in a child process. Run \`npm run build\` first (npm test does).`);
    }
  });

  test.each(CASES.map((c) => [c.name, c] as const))('%s: exit 3 for config check, replay and kvs keys; every problem listed; no stack trace', async (_name, c) => {
    const { dir, file } = setUp(`bin ${c.name}`, c.yaml);
    const check = await runBin(['config', 'check', '--config', file, '--json'], dir);
    expect(check.code).toBe(EXIT.CONFIG);
    expect((JSON.parse(check.out) as { issues: { path: string }[] }).issues.map((i) => i.path).sort()).toEqual([...c.paths].sort());
    for (const args of [['replay', 'one.jsonl', '--no-progress'], ['kvs', 'keys']]) {
      const r = await runBin(args, dir, { LO_CONFIG: file });
      expect([args[0], r.code]).toEqual([args[0], EXIT.CONFIG]);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^lo: Invalid key-value store settings in /);
      expect(countProblems(r.err)).toBe(c.paths.length);
      expect(r.err).not.toMatch(STACK_LINE);
    }
  });
});
