// The README's "Writing a reducer" example lives in ./readmeExample.ts, which this test imports
// (so it compiles and runs) and compares with the README block (so the two cannot drift).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { InMemoryKVS } from '@learning-observer/kvs';
import { ReducerPipeline, readLogEvents, runReducers, type LOEvent } from '@learning-observer/reducers';
import { WritingAnalysis } from './readmeExample';

type Tot = { saved_ts: number | null; total_time_on_task: number };

test('the README block is exactly test/readmeExample.ts (below its comment lines)', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const block = /## Writing a reducer\n\n```ts\n([\s\S]*?)```\n/.exec(readme);
  expect(block).not.toBeNull();
  const file = readFileSync(join(__dirname, 'readmeExample.ts'), 'utf8').replace(/^(\/\/.*\n)+/, '');
  expect(block![1]).toBe(file);
});

test('README example: time on task per student and document (threshold 60 s), `false` external', async () => {
  const times = [1000, 1010, 1100, 1105.5, 1090];
  const totals: number[] = [];
  for (let i = 0; i < times.length; i++) {
    const events = times.slice(0, i + 1).map((t) => ({
      client: { source: 'org.mitros.writing_analytics', event: 'keystroke', doc_id: 'D1' },
      metadata: { auth: { safe_user_id: 's1' } },
      server: { time: t },
    }));
    const run = await runReducers(WritingAnalysis, events);
    expect(run.errors).toEqual([]);
    totals.push(((await run.external('time_on_task', { STUDENT: 's1', 'EventField.doc_id': 'D1' })) as Tot).total_time_on_task);
    expect(await run.internal('event_count', { STUDENT: 's1' })).toEqual({ count: i + 1 });
    expect(await run.external('event_count', { STUDENT: 's1' })).toBeUndefined();
  }
  // the original gives 0, 10, 70, 75.5, 60 (it subtracts the negative gap); this example clamps it
  expect(totals).toEqual([0, 10, 70, 75.5, 75.5]);
});

test('README example: an instance carries its threshold (`this`)', async () => {
  const events = [1000, 1100].map((t) => ({
    client: { source: 'org.mitros.writing_analytics', event: 'keystroke', doc_id: 'D1' },
    metadata: { auth: { safe_user_id: 's1' } },
    server: { time: t },
  }));
  const run = await runReducers(new WritingAnalysis(30), events);
  expect(await run.external('time_on_task', { STUDENT: 's1', 'EventField.doc_id': 'D1' })).toEqual({ total_time_on_task: 30 });
  expect(await run.dump()).toEqual({
    'External,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D1,STUDENT:s1': { total_time_on_task: 30 },
    'Internal,writing_observer.writing_analysis.event_count,STUDENT:s1': { count: 2 },
    'Internal,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D1,STUDENT:s1': { saved_ts: 1100, total_time_on_task: 30 },
  });
});

test('README "Running reducers": a log file through eventsOf() and run()', async () => {
  async function* eventsOf(file: string): AsyncGenerator<LOEvent> {
    for await (const { event } of readLogEvents(file)) yield event;
  }
  const dir = mkdtempSync(join(tmpdir(), 'lo-readme-'));
  try {
    const log = join(dir, 'log.jsonl');
    const lines = [1000, 1010].map((t) =>
      JSON.stringify({ client: { source: 'org.mitros.writing_analytics', event: 'k', doc_id: 'D1' }, metadata: { auth: { safe_user_id: 's1' } }, server: { time: t } }),
    );
    writeFileSync(log, lines.join('\n') + '\n');
    const store = new InMemoryKVS();
    const pipeline = new ReducerPipeline({ modules: [new WritingAnalysis(60)], store, concurrency: 32 });
    const results = await lastValueFrom(pipeline.run(eventsOf(log)).pipe(toArray()));
    expect(results).toHaveLength(4);
    expect(await store.get('External,writing_observer.writing_analysis.time_on_task,EventField.doc_id:D1,STUDENT:s1')).toEqual({ total_time_on_task: 10 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
