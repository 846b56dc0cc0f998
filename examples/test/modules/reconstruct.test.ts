import type { LOEvent } from '@learning-observer/reducers';
import {
  GoogleDoc,
  MalformedCommandError,
  applyCommand,
  applyCommands,
  reconstructFromEvent,
  visibleText,
  wordCount,
  type ReconstructState,
} from '../../src/modules';

const is = (ibi: number, s: string) => ({ ty: 'is', ibi, s });
const ds = (si: number, ei: number) => ({ ty: 'ds', si, ei });

function build(commands: unknown[], start: Partial<ReconstructState> | null = null, options = {}): ReconstructState {
  const doc = GoogleDoc.fromJson(start);
  applyCommands(doc, commands, options);
  return doc.toJson();
}

function save(commands: unknown[][], docId = 'D1'): LOEvent {
  return { client: { event: 'google_docs_save', doc_id: docId, bundles: commands.map((c) => ({ commands: c })) } };
}

describe('reconstruct: reference vectors', () => {
  it('is / ds / mlti with a formatting no-op', () => {
    expect(build([is(1, 'Hello'), is(6, ' world'), ds(1, 6), { ty: 'mlti', mts: [is(1, 'Hi'), { ty: 'as', si: 1, ei: 2, st: 'text', sm: {} }] }])).toEqual({
      text: 'Hiworld',
      position: 3,
      edit_metadata: { cursor: [6, 12, 1, 3], length: [5, 11, 5, 7] },
    });
  });

  it('an insert past the end pads with placeholders (recorded as its own edit)', () => {
    expect(build([is(4, 'abc')])).toEqual({
      text: '\u0000\u0000\u0000abc',
      position: 7,
      edit_metadata: { cursor: [4, 7], length: [3, 6] },
    });
  });

  it('rplc applies a snapshot without moving the cursor', () => {
    expect(build([{ ty: 'rplc', snapshot: [is(1, 'Template text')] }])).toEqual({
      text: 'Template text',
      position: 0,
      edit_metadata: { cursor: [], length: [] },
    });
  });

  it('rplc with sl overwrites that many units', () => {
    const state = build([is(1, 'abcdef'), { ty: 'rplc', snapshot: [{ ty: 'is', ibi: 2, s: 'XY', sl: 3 }] }]);
    expect(state.text).toBe('aXYef');
    expect(state.position).toBe(7);
  });

  it('rvrt behaves like rplc, and non-insert snapshot entries are skipped', () => {
    const state = build([is(1, 'abcdef'), { ty: 'rvrt', snapshot: [{ ty: 'as', si: 1, ei: 2 }, 'junk', { ty: 'is', ibi: 1, s: 'Z', sl: 1 }] }]);
    expect(state.text).toBe('Zbcdef');
  });

  it('nm targets a tab; other commands go to the main document', () => {
    expect(build([{ ty: 'nm', nmc: is(1, 'tab text'), nmr: ['t.abc'] }, is(1, 'main')])).toEqual({
      text: 'main',
      position: 5,
      edit_metadata: { cursor: [5], length: [4] },
      tabs: { 't.abc': { text: 'tab text', position: 9, edit_metadata: { cursor: [9], length: [8] } } },
    });
  });

  it('ds past the end over-pads exactly like the original (ds 3..5 on an empty doc leaves 5 placeholders)', () => {
    expect(build([ds(3, 5)])).toEqual({
      text: '\u0000'.repeat(5),
      position: 3,
      edit_metadata: { cursor: [4, 6, 3], length: [3, 8, 5] },
    });
  });
});

describe('reconstruct: more behaviour', () => {
  it('nm picks the last t.-prefixed reference; without one it edits the main document', () => {
    const state = build([
      { ty: 'nm', nmc: is(1, 'b'), nmr: ['x', 't.a', 't.b', 'kix.1'] },
      { ty: 'nm', nmc: is(1, 'main'), nmr: ['kix.1'] },
      { ty: 'nm', nmc: { ty: 'mlti', mts: [is(2, 'c')] }, nmr: ['t.b'] },
    ]);
    expect(state.text).toBe('main');
    expect(Object.keys(state.tabs!)).toEqual(['t.b']);
    expect(state.tabs!['t.b'].text).toBe('bc');
  });

  it('every known no-op type leaves the document unchanged and is not reported', () => {
    const types = 'as ac ae ase ast astss ue de dse dss te iss mefd mkch msfd null ord ras rte rue sas sl ste sue ucp uefd use umv usfd'.split(' ');
    const unknown: string[] = [];
    const state = build([is(1, 'x'), ...types.map((ty) => ({ ty, whatever: 1 }))], null, { onUnknownType: (t: string) => unknown.push(t) });
    expect(state).toEqual({ text: 'x', position: 2, edit_metadata: { cursor: [2], length: [1] } });
    expect(unknown).toEqual([]);
  });

  it('an unknown type is reported and ignored', () => {
    const unknown: Array<[string, unknown]> = [];
    const state = build([is(1, 'x'), { ty: 'zz', a: 1 }, is(2, 'y')], null, { onUnknownType: (t: string, c: unknown) => unknown.push([t, c]) });
    expect(state.text).toBe('xy');
    expect(unknown).toEqual([['zz', { ty: 'zz', a: 1 }]]);
  });

  it('counts indices in UTF-16 code units, as Google Docs does (an emoji is 2 units)', () => {
    expect(build([is(1, '😀'), is(3, 'x')])).toEqual({
      text: '😀x',
      position: 4,
      edit_metadata: { cursor: [3, 4], length: [2, 3] },
    });
    expect(build([is(1, 'a😀b'), ds(2, 3)]).text).toBe('ab');
  });

  it('an empty delete range (ei = si - 1) changes no text but moves the cursor', () => {
    expect(build([is(1, 'abc'), ds(2, 1)])).toEqual({ text: 'abc', position: 2, edit_metadata: { cursor: [4, 2], length: [3, 3] } });
  });

  it('fromJson repairs cursor/length arrays of unequal length and never mutates its input', () => {
    const stored = { text: 'ab', position: 3, edit_metadata: { cursor: [1, 2, 3], length: [2] } };
    const copy = JSON.parse(JSON.stringify(stored));
    const doc = GoogleDoc.fromJson(stored);
    expect(doc.toJson().edit_metadata).toEqual({ cursor: [1, 2, 3], length: [2, 0, 0] });
    applyCommand(doc, is(3, 'c'));
    expect(stored).toEqual(copy);
    expect(GoogleDoc.fromJson(null).toJson()).toEqual({ text: '', position: 0, edit_metadata: { cursor: [], length: [] } });
  });

  it.each([
    ['not an object', 'is'],
    ['no ty', { ibi: 1, s: 'x' }],
    ['ibi not a number', { ty: 'is', ibi: '1', s: 'x' }],
    ['ibi 0', { ty: 'is', ibi: 0, s: 'x' }],
    ['ibi fractional', { ty: 'is', ibi: 1.5, s: 'x' }],
    ['s missing', { ty: 'is', ibi: 1 }],
    ['ds range reversed', { ty: 'ds', si: 5, ei: 2 }],
    ['mlti without mts', { ty: 'mlti' }],
    ['rplc without snapshot', { ty: 'rplc' }],
    ['rplc with a negative sl', { ty: 'rplc', snapshot: [{ ty: 'is', ibi: 1, s: 'x', sl: -1 }] }],
    ['nm without nmc', { ty: 'nm', nmr: ['t.a'] }],
    ['index beyond the limit', { ty: 'is', ibi: 2_000_001, s: 'x' }],
  ])('rejects a malformed command: %s', (_name, command) => {
    expect(() => applyCommand(new GoogleDoc(), command)).toThrow(MalformedCommandError);
  });

  it('maxIndex bounds the padding a command may cause', () => {
    expect(() => applyCommand(new GoogleDoc(), is(11, 'x'), { maxIndex: 10 })).toThrow(/beyond the limit of 10/);
    expect(build([is(10, 'x')], null, { maxIndex: 10 }).text).toHaveLength(10);
  });
});

describe('reconstructFromEvent', () => {
  it('applies every command of every bundle of a google_docs_save, continuing from the state', () => {
    const first = reconstructFromEvent(null, save([[is(1, 'Hello')], [is(6, '!')]]))!;
    expect(first.text).toBe('Hello!');
    expect(reconstructFromEvent(first, save([[ds(6, 6)]]))!.text).toBe('Hello');
  });

  it('rebuilds from scratch from a document_history changelog (first item of each entry)', () => {
    const previous = build([is(1, 'old'), { ty: 'nm', nmc: is(1, 'tab'), nmr: ['t.x'] }]);
    const event: LOEvent = {
      client: {
        event: 'document_history',
        doc_id: 'D1',
        history: { changelog: [[is(1, 'new text'), 1700000000000, 'user', 1], [ds(4, 4), 1700000000100, 'user', 2]] },
      },
    };
    expect(reconstructFromEvent(previous, event)).toEqual({
      text: 'newtext',
      position: 4,
      edit_metadata: { cursor: [9, 4], length: [8, 7] },
    });
  });

  it('ignores other event types', () => {
    expect(reconstructFromEvent(null, { client: { event: 'keystroke', doc_id: 'D1' } })).toBeUndefined();
  });

  it('a malformed command fails the whole event and leaves the input state untouched', () => {
    const state = build([is(1, 'keep')]);
    const copy = JSON.parse(JSON.stringify(state));
    expect(() => reconstructFromEvent(state, save([[is(5, ' me')], [{ ty: 'ds', si: 'x', ei: 2 }]]))).toThrow(MalformedCommandError);
    expect(state).toEqual(copy);
  });

  it.each([
    ['bundles missing', { event: 'google_docs_save', doc_id: 'D1' }],
    ['a bundle without commands', { event: 'google_docs_save', doc_id: 'D1', bundles: [{}] }],
    ['changelog missing', { event: 'document_history', doc_id: 'D1', history: {} }],
    ['a changelog entry that is not a list', { event: 'document_history', doc_id: 'D1', history: { changelog: [is(1, 'x')] } }],
  ])('rejects a malformed event: %s', (_name, client) => {
    expect(() => reconstructFromEvent(null, { client })).toThrow(MalformedCommandError);
  });
});

describe('visibleText / wordCount', () => {
  it('drops placeholders and counts words', () => {
    expect(visibleText({ text: '\u0000\u0000Hello world' })).toBe('Hello world');
    expect(visibleText(null)).toBe('');
    expect(wordCount("Hello, world! Don't stop — naïve 42.")).toBe(6);
    expect(wordCount('')).toBe(0);
  });
});
