import type { LOEvent } from '@learning-observer/reducers';
import {
  applyDocumentAccess,
  applyDocumentList,
  applyDocumentTags,
  applyLastDocument,
  docIdOf,
  extractTags,
} from '../../src/modules';

const docUrl = (id: string) => `https://docs.google.com/document/d/${id}/edit?tab=t.0`;

describe('docIdOf', () => {
  it('prefers client.doc_id, then object.id when object.url is a document editor URL', () => {
    expect(docIdOf({ client: { doc_id: 'D1', object: { id: 'D2', url: docUrl('D2') } } })).toBe('D1');
    expect(docIdOf({ client: { event: 'keystroke', object: { id: 'D2', url: docUrl('D2') } } })).toBe('D2');
    expect(docIdOf({ client: { doc_id: '', object: { id: 'D2', url: docUrl('D2') } } })).toBe('D2');
  });

  it('returns undefined for the Docs home page, other sites and events without a document', () => {
    expect(docIdOf({ client: { object: { id: 'x', url: 'https://docs.google.com/document/u/0/?tgif=d' } } })).toBeUndefined();
    expect(docIdOf({ client: { object: { id: 'x', url: 'https://example.com/document/d/x/edit' } } })).toBeUndefined();
    expect(docIdOf({ client: { object: null } })).toBeUndefined();
    expect(docIdOf({ client: {} })).toBeUndefined();
  });
});

describe('document list', () => {
  it('records title and last access per document, keeping the last title seen', () => {
    let state = applyDocumentList({ docs: {} }, { client: { doc_id: 'D1', object: { title: 'Essay' } }, server: { time: 5 } })!;
    state = applyDocumentList(state, { client: { doc_id: 'D2' }, server: { time: 6 } })!;
    state = applyDocumentList(state, { client: { doc_id: 'D1', object: { title: 'Essay v2' } }, server: { time: 7 } })!;
    state = applyDocumentList(state, { client: { doc_id: 'D1' } })!;
    expect(JSON.parse(JSON.stringify(state))).toEqual({
      docs: { D1: { title: 'Essay v2', last_access: 7 }, D2: { last_access: 6 } },
    });
    expect(applyDocumentList(state, { client: { event: 'login' }, server: { time: 9 } })).toBeUndefined();
  });

  it('stores only a string title and a numeric server.time (deliberate difference from the original, see README)', () => {
    // The original copies any value; here a dashboard can rely on title: string | null, last_access: number.
    const raw = (event: unknown) => event as LOEvent; // malformed events, as a log may hold them
    let state = applyDocumentList(null, { client: { doc_id: 'D1', object: { title: 'Essay' } }, server: { time: 5 } })!;
    state = applyDocumentList(state, raw({ client: { doc_id: 'D1', object: { title: { text: 'Essay' } } }, server: { time: '6' } }))!;
    expect(state).toEqual({ docs: { D1: { title: null, last_access: 5 } } });
    state = applyDocumentList(state, raw({ client: { doc_id: 'D1', object: { title: 42 } }, server: { time: null } }))!;
    expect(state).toEqual({ docs: { D1: { title: null, last_access: 5 } } });
    state = applyDocumentList(state, { client: { doc_id: 'D1', object: { title: null } }, server: { time: 7 } })!;
    expect(state).toEqual({ docs: { D1: { title: null, last_access: 7 } } });
    expect(applyDocumentList(null, raw({ client: { doc_id: 'D2', object: { title: ['a'] } }, server: { time: 'yesterday' } }))).toEqual({ docs: { D2: { title: null } } });
  });

  it('treats any document id (even __proto__) as a plain key', () => {
    const state = applyDocumentList(null, { client: { doc_id: '__proto__' }, server: { time: 1 } })!;
    expect(JSON.stringify(state)).toBe('{"docs":{"__proto__":{"last_access":1}}}');
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    const again = applyDocumentList(JSON.parse(JSON.stringify(state)), { client: { doc_id: '__proto__' }, server: { time: 2 } })!;
    expect(JSON.stringify(again)).toBe('{"docs":{"__proto__":{"last_access":2}}}');
  });
});

describe('last document', () => {
  it('is the latest event with a document', () => {
    expect(applyLastDocument({ client: { doc_id: 'D1' } })).toEqual({ document_id: 'D1' });
    expect(applyLastDocument({ client: { event: 'login' } })).toBeUndefined();
  });
});

describe('document access timestamps', () => {
  it('records a switch only when the document changes, keyed by client.metadata.ts (ms)', () => {
    const ev = (doc: string, ts: number, event = 'keystroke'): LOEvent => ({ client: { event, doc_id: doc, metadata: { ts } }, server: { time: ts / 1000 } });
    let state = applyDocumentAccess({ timestamps: {}, last_document: '' }, ev('D1', 1700000000100))!;
    state = applyDocumentAccess(state, ev('D1', 1700000000200))!;
    expect(applyDocumentAccess(state, ev('D2', 1700000000250, 'visibility'))).toBeUndefined();
    state = applyDocumentAccess(state, ev('D2', 1700000000300))!;
    state = applyDocumentAccess(state, ev('D1', 1700000000400))!;
    expect(JSON.parse(JSON.stringify(state))).toEqual({
      timestamps: { '1700000000100': 'D1', '1700000000300': 'D2', '1700000000400': 'D1' },
      last_document: 'D1',
    });
  });

  it('falls back to server.time in ms when the client sent no ts, and skips events with neither', () => {
    expect(applyDocumentAccess(null, { client: { doc_id: 'D1' }, server: { time: 1700000000.5 } })).toEqual({
      timestamps: { '1700000000500': 'D1' },
      last_document: 'D1',
    });
    expect(applyDocumentAccess(null, { client: { doc_id: 'D1' } })).toBeUndefined();
  });
});

describe('document tagging', () => {
  it('extracts #tags made of Unicode word characters', () => {
    expect(extractTags('Draft #essay #日本語 #naïve-x #unit_2, #Ünïcödé!')).toEqual(['essay', '日本語', 'naïve', 'unit_2', 'Ünïcödé']);
    // As Python's \w: combining marks end a tag (more vectors in documentTagsPython.test.ts).
    expect(extractTags('#हिन्दी #cafe\u0301')).toEqual(['ह', 'cafe']);
    expect(extractTags('no tags # here ##')).toEqual([]);
    expect(extractTags('#a#b')).toEqual(['a', 'b']);
  });

  it('groups documents by tag from document_history titles only, without duplicates', () => {
    const hist = (doc: string, title: unknown): LOEvent => ({ client: { event: 'document_history', doc_id: doc, object: { title } } });
    let state = applyDocumentTags({ tags: {} }, hist('D1', 'Plan #unit1 #draft'))!;
    state = applyDocumentTags(state, hist('D2', 'Final #unit1'))!;
    state = applyDocumentTags(state, hist('D1', 'Plan #unit1'))!;
    expect(applyDocumentTags(state, { client: { event: 'keystroke', doc_id: 'D3', object: { title: '#x' } } })).toBeUndefined();
    expect(applyDocumentTags(state, hist('D3', null))).toBeUndefined();
    expect(JSON.parse(JSON.stringify(state))).toEqual({ tags: { unit1: ['D1', 'D2'], draft: ['D1'] } });
  });
});
