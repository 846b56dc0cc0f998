import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { BadLine, LogFileError, LogRecord, parseLogLine, readLogEvents, splitLines } from '../src/logs';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lo-logs-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

async function readAll(files: string | string[], options: Parameters<typeof readLogEvents>[1] = {}) {
  const bad: BadLine[] = [];
  const reader = readLogEvents(files, { ...options, onBadLine: (b) => bad.push(b) });
  const records: LogRecord[] = [];
  for await (const r of reader) records.push(r);
  return { records, bad, stats: reader.stats };
}

const ev = (id: string, t: number) => JSON.stringify({ client: { event: 'keystroke', source: 'org.x' }, metadata: { auth: { safe_user_id: id } }, server: { time: t } });

describe('readLogEvents: formats', () => {
  test('JSON lines: events with file and 1-based line numbers; blank lines and CRLF handled', async () => {
    const f = write('a.jsonl', `${ev('s1', 1)}\n\n${ev('s2', 2)}\r\n   \n${ev('s3', 3)}`);
    const { records, bad, stats } = await readAll(f);
    expect(records.map((r) => [r.event.metadata?.auth?.safe_user_id, r.file, r.line])).toEqual([
      ['s1', f, 1],
      ['s2', f, 3],
      ['s3', f, 5],
    ]);
    expect(bad).toEqual([]);
    expect(stats).toEqual({ filesRead: 1, bytesRead: fs.statSync(f).size, totalBytes: fs.statSync(f).size, lines: 5, events: 3, badLines: 0, badByReason: {} });
  });

  test('gzip is detected by magic bytes, whatever the file is called; a plain file named .gz reads as text', async () => {
    const gz = write('events.log', zlib.gzipSync(`${ev('g1', 1)}\n${ev('g2', 2)}\n`));
    const plain = write('plain.jsonl.gz', `${ev('p1', 1)}\n`);
    const { records, stats } = await readAll([gz, plain]);
    expect(records.map((r) => [r.event.metadata?.auth?.safe_user_id, path.basename(r.file), r.line])).toEqual([
      ['g1', 'events.log', 1],
      ['g2', 'events.log', 2],
      ['p1', 'plain.jsonl.gz', 1],
    ]);
    expect(stats.bytesRead).toBe(fs.statSync(gz).size + fs.statSync(plain).size);
    expect(stats.filesRead).toBe(2);
  });

  test('.study.log lines: JSON, a tab, an ISO timestamp (the original format)', async () => {
    const f = write(
      'gc-1.study.log',
      `${ev('s1', 1)}\t2023-11-14T22:13:20.123456\n` + `${ev('s1', 2)}\t2023-11-14T22:13:21\n` + `${ev('s1', 3)}\t2023-11-14T22:13:22.5+00:00\n`,
    );
    const { records, bad } = await readAll(f);
    expect(bad).toEqual([]);
    expect(records.map((r) => [r.event.server?.time, r.loggedAt])).toEqual([
      [1, '2023-11-14T22:13:20.123456'],
      [2, '2023-11-14T22:13:21'],
      [3, '2023-11-14T22:13:22.5+00:00'],
    ]);
  });

  test('a tab that is JSON whitespace (not followed by a timestamp) is kept as JSON', () => {
    expect(parseLogLine(Buffer.from('{"client":\t{"event":"a"}}'))).toEqual({ kind: 'event', event: { client: { event: 'a' } } });
  });

  test('gzip of a study log, read in tiny chunks, gives the same records', async () => {
    const text = `${ev('s1', 1)}\t2023-11-14T22:13:20.1\r\n${ev('s2', 2)}\t2023-11-14T22:13:21.2\r\n`;
    const f = write('tiny.study.log.gz', zlib.gzipSync(text));
    const { records } = await readAll(f, { chunkBytes: 7 });
    expect(records.map((r) => [r.event.metadata?.auth?.safe_user_id, r.line, r.loggedAt])).toEqual([
      ['s1', 1, '2023-11-14T22:13:20.1'],
      ['s2', 2, '2023-11-14T22:13:21.2'],
    ]);
  });
});

describe('readLogEvents: bad lines are reported with file, line and reason, and skipped', () => {
  test('each kind of bad line', async () => {
    const lines: Buffer[] = [
      Buffer.from(ev('ok1', 1)), // 1
      Buffer.from('this is not json'), // 2
      Buffer.from('[1,2,3]'), // 3
      Buffer.from('{"server":{"time":1}}'), // 4
      Buffer.from('{"client":"keystroke"}'), // 5
      Buffer.from('{"client":{"event":"x"},"server":{"time":"soon"}}'), // 6
      Buffer.from('{"client":{"event":7}}'), // 7
      Buffer.from('{"client":{},"metadata":{"auth":{"safe_user_id":{"id":1}}}}'), // 8
      Buffer.concat([Buffer.from('{"client":{"event":"a'), Buffer.from([0]), Buffer.from('"}}')]), // 9
      Buffer.concat([Buffer.from('{"client":{"event":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}')]), // 10
      Buffer.from('null'), // 11
      Buffer.from(ev('ok2', 2)), // 12
    ];
    const f = write('bad.jsonl', Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
    const { records, bad, stats } = await readAll(f);
    expect(records.map((r) => [r.event.metadata?.auth?.safe_user_id, r.line])).toEqual([
      ['ok1', 1],
      ['ok2', 12],
    ]);
    expect(bad.map((b) => [b.file, b.line, b.reason])).toEqual([
      [f, 2, 'not-json'],
      [f, 3, 'not-object'],
      [f, 4, 'missing-client'],
      [f, 5, 'wrong-type'],
      [f, 6, 'wrong-type'],
      [f, 7, 'wrong-type'],
      [f, 8, 'wrong-type'],
      [f, 9, 'nul-byte'],
      [f, 10, 'invalid-utf8'],
      [f, 11, 'not-object'],
    ]);
    expect(bad[4].message).toBe('server.time is a string, expected a number of seconds');
    expect(bad[3].message).toBe('client is a string, expected an object');
    expect(bad[7].excerpt).toBe('{"client":{"event":"a\\u0000"}}');
    expect(stats.badLines).toBe(10);
    expect(stats.badByReason).toEqual({ 'not-json': 1, 'not-object': 2, 'missing-client': 1, 'wrong-type': 4, 'nul-byte': 1, 'invalid-utf8': 1 });
    expect(stats.events).toBe(2);
    expect(stats.lines).toBe(12);
  });

  test('an escaped \\u0000 inside a JSON string is data, not a NUL byte', () => {
    const parsed = parseLogLine(Buffer.from('{"client":{"doc_id":"a\\u0000b"}}'));
    expect(parsed).toEqual({ kind: 'event', event: { client: { doc_id: 'a\u0000b' } } });
  });

  test('a 10 MB line of garbage is skipped as not JSON, and the next line still reads', async () => {
    const f = write('big.jsonl', `${ev('a', 1)}\n${'x'.repeat(10 * 1024 * 1024)}\n${ev('b', 2)}\n`);
    const { records, bad } = await readAll(f);
    expect(records.map((r) => [r.event.metadata?.auth?.safe_user_id, r.line])).toEqual([
      ['a', 1],
      ['b', 3],
    ]);
    expect(bad.map((b) => [b.line, b.reason])).toEqual([[2, 'not-json']]);
    expect(bad[0].excerpt).toBe('x'.repeat(80) + '…');
  });

  test('a line over the cap is measured, not buffered, and reported as line-too-long', async () => {
    const huge = JSON.stringify({ client: { event: 'x', pad: 'y'.repeat(17 * 1024 * 1024) } });
    const f = write('huge.jsonl', `${huge}\n${ev('after', 2)}\n`);
    const { records, bad } = await readAll(f);
    expect(records.map((r) => r.line)).toEqual([2]);
    expect(bad).toEqual([
      { file: f, line: 1, reason: 'line-too-long', message: `the line is ${huge.length} bytes, over the 16777216-byte limit`, excerpt: '' },
    ]);
  });

  test('maxLineBytes sets the cap', async () => {
    const f = write('cap.jsonl', `${ev('a', 1)}\n${ev('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 2)}\n`);
    const { records, bad } = await readAll(f, { maxLineBytes: 120, chunkBytes: 16 });
    expect(records.map((r) => r.line)).toEqual([1]);
    expect(bad.map((b) => [b.line, b.reason])).toEqual([[2, 'line-too-long']]);
  });

  test('a truncated gzip is reported where reading stopped, and the next file is still read', async () => {
    const full = zlib.gzipSync(Array.from({ length: 2000 }, (_, i) => ev(`s${i}`, i)).join('\n') + '\n');
    const truncated = write('cut.jsonl.gz', full.subarray(0, Math.floor(full.length / 2)));
    const next = write('next.jsonl', `${ev('next', 1)}\n`);
    const { records, bad } = await readAll([truncated, next]);
    expect(bad.length).toBeGreaterThanOrEqual(1);
    const last = bad[bad.length - 1];
    expect(last.reason).toBe('unreadable-file');
    expect(last.file).toBe(truncated);
    expect(last.message).toMatch(/corrupt or truncated gzip/);
    expect(records[records.length - 1]).toEqual({ event: JSON.parse(ev('next', 1)), file: next, line: 1 });
    const fromCut = records.filter((r) => r.file === truncated);
    expect(fromCut.length).toBeGreaterThan(0);
    expect(fromCut.map((r) => r.line)).toEqual(fromCut.map((_, i) => i + 1));
  });

  test('without onBadLine, bad lines are still counted and skipped', async () => {
    const f = write('quiet.jsonl', `oops\n${ev('a', 1)}\n`);
    const reader = readLogEvents(f);
    const seen: number[] = [];
    for await (const r of reader) seen.push(r.line);
    expect(seen).toEqual([2]);
    expect(reader.stats.badByReason).toEqual({ 'not-json': 1 });
  });
});

describe('readLogEvents: files', () => {
  test('a missing file throws LogFileError before the first event', async () => {
    const ok = write('ok.jsonl', `${ev('a', 1)}\n`);
    const missing = path.join(dir, 'nope.jsonl');
    const seen: LogRecord[] = [];
    const run = async () => {
      for await (const r of readLogEvents([ok, missing])) seen.push(r);
    };
    await expect(run()).rejects.toThrow(LogFileError);
    await expect(run()).rejects.toThrow(`Cannot read log file ${JSON.stringify(missing)}: no such file`);
    expect(seen).toEqual([]);
  });

  test('a directory is not a log file', async () => {
    const run = async () => {
      for await (const r of readLogEvents(dir)) void r;
    };
    await expect(run()).rejects.toThrow('not a regular file');
  });

  test('breaking out early closes the file', async () => {
    const f = write('many.jsonl', Array.from({ length: 1000 }, (_, i) => ev(`s${i}`, i)).join('\n'));
    const reader = readLogEvents(f, { chunkBytes: 256 });
    let n = 0;
    for await (const r of reader) {
      void r;
      if (++n === 3) break;
    }
    expect(n).toBe(3);
    expect(reader.stats.events).toBe(3);
    expect(reader.stats.bytesRead).toBeLessThan(fs.statSync(f).size);
  });
});

describe('splitLines', () => {
  async function* from(chunks: string[]) {
    for (const c of chunks) yield Buffer.from(c);
  }
  test('lines split across chunks, a final line without newline, CRLF across a boundary', async () => {
    const out: [number, string | null, number][] = [];
    for await (const l of splitLines(from(['ab', 'c\r', '\nd', 'ef\n', '\n', 'gh']), 100)) out.push([l.line, l.bytes?.toString() ?? null, l.length]);
    expect(out).toEqual([
      [1, 'abc', 3],
      [2, 'def', 3],
      [3, '', 0],
      [4, 'gh', 2],
    ]);
  });
  test('over-long lines come back as null with their length', async () => {
    const out: [number, string | null, number][] = [];
    for await (const l of splitLines(from(['12345', '67890\nok\n']), 8)) out.push([l.line, l.bytes?.toString() ?? null, l.length]);
    expect(out).toEqual([
      [1, null, 10],
      [2, 'ok', 2],
    ]);
  });
});
