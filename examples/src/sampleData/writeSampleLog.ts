import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { generateEvents } from './generateEvents';
import { GenerateEventsOptions } from './types';

/** What {@link writeSampleLog} wrote. */
export interface SampleLogSummary {
  path: string;
  events: number;
  /** Uncompressed bytes of JSON lines. */
  bytes: number;
  gzip: boolean;
}

/**
 * Writes {@link generateEvents} output as JSON lines to `path` (gzip-compressed when it ends in
 * `.gz`), streaming with back-pressure. Same options and seed give the same uncompressed bytes.
 *
 * @example
 * await writeSampleLog('examples/data/sample.jsonl.gz', { students: 8, seed: 1 });
 */
export async function writeSampleLog(path: string, options: GenerateEventsOptions = {}): Promise<SampleLogSummary> {
  const gzip = path.endsWith('.gz');
  const file = fs.createWriteStream(path);
  const out: NodeJS.WritableStream = gzip ? zlib.createGzip({ level: 9 }) : file;
  if (gzip) (out as zlib.Gzip).pipe(file);
  const failed = new Promise<never>((_, reject) => {
    file.once('error', reject);
    out.once('error', reject);
  });
  failed.catch(() => undefined);
  let events = 0;
  let bytes = 0;
  let batch = '';
  const flush = async () => {
    if (batch === '') return;
    const chunk = batch;
    batch = '';
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  };
  for (const event of generateEvents(options)) {
    batch += JSON.stringify(event) + '\n';
    events++;
    if (batch.length >= 65536) await flush();
  }
  await flush();
  out.end();
  await Promise.race([once(file, 'close'), failed]);
  return { path, events, bytes, gzip };
}

/**
 * Absolute path of the shipped sample log, `examples/data/sample.jsonl.gz` (generated with
 * {@link SAMPLE_DEFAULTS}; `lo sample` regenerates it byte for byte).
 *
 * @example
 * for await (const { event } of readLogEvents(sampleLogPath())) handle(event);
 */
export function sampleLogPath(): string {
  // Both src/sampleData and dist/sampleData sit two levels below the package folder.
  return path.resolve(__dirname, '..', '..', 'data', 'sample.jsonl.gz');
}
