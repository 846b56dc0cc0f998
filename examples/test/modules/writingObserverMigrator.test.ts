import { lastValueFrom, from, toArray } from 'rxjs';
import { InMemoryKVS } from '@learning-observer/kvs';
import { ReducerPipeline, runReducers, type LOEvent } from '@learning-observer/reducers';
import { WritingObserverModule, docIdFromDocumentLink } from '../../src/modules';

const WO = 'org.mitros.writing_analytics';
const DOC = '18JAnmxzVD_lGSfa8t6Se66KLZm30YFrC_4M-D2zdYG4';
const docUrl = (id: string) => `https://docs.google.com/document/d/${id}/edit`;

/** A keystroke as the extension sends it: the document only in client.object. */
function keystroke(time: number, object: Record<string, unknown>, extra: Record<string, unknown> = {}): LOEvent {
  return {
    client: { source: WO, event: 'keystroke', keystroke: { key: 'a' }, object, ...extra },
    metadata: { auth: { safe_user_id: 's1' } },
    server: { time },
  };
}

const perDoc = (doc: string) => ({ STUDENT: 's1', 'EventField.doc_id': doc });

describe('WritingObserverModule event migrator (the original\'s document_link_to_doc_id)', () => {
  test('keystrokes with only client.object { id, url } count for time_on_task, binned_time_on_task and event_count under the object id', async () => {
    const events = [1000, 1010, 1030].map((t) => keystroke(t, { id: DOC, url: docUrl(DOC), title: 'Essay' }));
    const snapshot = JSON.parse(JSON.stringify(events));
    const run = await runReducers(WritingObserverModule, events);
    expect(run.errors).toEqual([]);
    expect(await run.external('time_on_task', perDoc(DOC))).toEqual({ saved_ts: 1030, total_time_on_task: 30 });
    expect(await run.external('event_count', perDoc(DOC))).toEqual({ count: 3 });
    expect(await run.external('binned_time_on_task', perDoc(DOC))).toMatchObject({ saved_ts: 1030 });
    // the per-student reducers find the same document
    expect(await run.external('last_document', { STUDENT: 's1' })).toEqual({ document_id: DOC });
    // the caller's events are not modified
    expect(events).toEqual(snapshot);
    expect(events.every((e) => !('doc_id' in e.client))).toBe(true);
  });

  test('an event whose object.url is not a Google Docs editor URL is not migrated (per-document reducers skip it)', async () => {
    const home = keystroke(1000, { id: 'home', url: 'https://docs.google.com/document/u/0/?tgif=d' });
    const elsewhere = keystroke(1001, { id: 'x1', url: 'https://example.com/document/d/x1/edit' });
    expect(docIdFromDocumentLink(home)).toBe(home);
    expect(docIdFromDocumentLink(elsewhere)).toBe(elsewhere);
    const run = await runReducers(WritingObserverModule, [home, elsewhere]);
    expect(run.errors).toEqual([]);
    expect(Object.keys(await run.dump()).filter((k) => k.includes('EventField.doc_id'))).toEqual([]);
  });

  test('an event with its own doc_id keeps it (the same object is passed on); a linked one gets a copy', () => {
    const own = keystroke(1000, { id: 'OTHER', url: docUrl('OTHER') }, { doc_id: 'D1' });
    const numeric = keystroke(1000, { id: '7', url: docUrl('7') }, { doc_id: 7 });
    expect(docIdFromDocumentLink(own)).toBe(own);
    expect(docIdFromDocumentLink(numeric)).toBe(numeric);
    const linked = keystroke(1000, { id: 'D2', url: docUrl('D2') });
    const migrated = docIdFromDocumentLink(linked);
    expect(migrated).not.toBe(linked);
    expect(migrated.client).toEqual({ ...linked.client, doc_id: 'D2' });
    expect(linked.client.doc_id).toBeUndefined();
  });

  test('the same counts through operator() and batched run(), and keystrokes join the saves of their document', async () => {
    const save: LOEvent = {
      client: { source: WO, event: 'google_docs_save', doc_id: DOC, bundles: [{ commands: [{ ty: 'is', ibi: 1, s: 'a' }] }] },
      metadata: { auth: { safe_user_id: 's1' } },
      server: { time: 1005 },
    };
    const events = [keystroke(1000, { id: DOC, url: docUrl(DOC) }), save, keystroke(1020, { id: DOC, url: docUrl(DOC) })];
    for (const drive of [
      (p: ReducerPipeline) => lastValueFrom(from(events).pipe(p.operator(), toArray())),
      (p: ReducerPipeline) => lastValueFrom(p.run(events).pipe(toArray())),
    ]) {
      for (const batchSize of [undefined, 2]) {
        const store = new InMemoryKVS();
        await drive(new ReducerPipeline({ modules: [WritingObserverModule], store, batchSize }));
        const key = `,EventField.doc_id:${DOC},STUDENT:s1`;
        expect(await store.get(`External,writing_observer.writing_analysis.event_count${key}`)).toEqual({ count: 3 });
        expect(await store.get(`External,writing_observer.writing_analysis.time_on_task${key}`)).toEqual({ saved_ts: 1020, total_time_on_task: 20 });
      }
    }
  });
});
