/** Cursor positions and text lengths after each edit (the original's columnar "Deane" arrays). */
export type EditMetadata = { cursor: number[]; length: number[] };

/**
 * The reconstruct reducer's state, in the original's JSON shape. Positions and lengths are
 * 1-based UTF-16 code-unit indices (see examples/README.md). `text` keeps the `\u0000`
 * placeholders that stand for text typed before logging started; `tabs` appears once a command
 * targeted a tab.
 */
export type ReconstructState = {
  text: string;
  position: number;
  edit_metadata: EditMetadata;
  tabs?: { [tabId: string]: ReconstructState };
};

/**
 * Fills gaps for text that existed before logging started (the original's placeholder).
 *
 * @example
 * ```ts
 * state.text.split(PLACEHOLDER).join(''); // the text typed while logging
 * ```
 */
export const PLACEHOLDER = '\u0000';

/**
 * A mutable working copy of a document (and its tabs) while commands are applied. Built from a
 * state with {@link GoogleDoc.fromJson} (a deep copy, so the input is never changed) and turned
 * back into one with {@link GoogleDoc.toJson}.
 *
 * @example
 * ```ts
 * const doc = GoogleDoc.fromJson(null);
 * doc.insert(1, 'Hi');
 * doc.toJson(); // { text: 'Hi', position: 3, edit_metadata: { cursor: [3], length: [2] } }
 * ```
 */
export class GoogleDoc {
  text = '';
  position = 0;
  cursor: number[] = [];
  lengths: number[] = [];
  tabs = new Map<string, GoogleDoc>();

  /**
   * Reads a stored state (or `null`/`undefined` for a new document). Missing fields get their
   * empty values and cursor/length arrays of unequal length are padded with zeros, as the
   * original's `fix_validity` does.
   *
   * @example
   * ```ts
   * GoogleDoc.fromJson({ text: 'abc' }).position; // 0
   * ```
   */
  static fromJson(json: Partial<ReconstructState> | null | undefined): GoogleDoc {
    const doc = new GoogleDoc();
    if (json === null || json === undefined || typeof json !== 'object') return doc;
    doc.text = typeof json.text === 'string' ? json.text : '';
    doc.position = typeof json.position === 'number' ? json.position : 0;
    const meta = json.edit_metadata;
    doc.cursor = Array.isArray(meta?.cursor) ? [...meta!.cursor] : [];
    doc.lengths = Array.isArray(meta?.length) ? [...meta!.length] : [];
    while (doc.lengths.length < doc.cursor.length) doc.lengths.push(0);
    while (doc.cursor.length < doc.lengths.length) doc.cursor.push(0);
    if (json.tabs && typeof json.tabs === 'object') {
      for (const [tabId, tab] of Object.entries(json.tabs)) doc.tabs.set(tabId, GoogleDoc.fromJson(tab));
    }
    return doc;
  }

  /**
   * The state as JSON; `tabs` only when there is at least one.
   *
   * @example
   * ```ts
   * new GoogleDoc().toJson(); // { text: '', position: 0, edit_metadata: { cursor: [], length: [] } }
   * ```
   */
  toJson(): ReconstructState {
    const json: ReconstructState = {
      text: this.text,
      position: this.position,
      edit_metadata: { cursor: [...this.cursor], length: [...this.lengths] },
    };
    if (this.tabs.size > 0) {
      json.tabs = {};
      for (const [tabId, tab] of this.tabs) json.tabs[tabId] = tab.toJson();
    }
    return json;
  }

  /** The tab's document, created empty on first use. */
  tab(tabId: string): GoogleDoc {
    let tab = this.tabs.get(tabId);
    if (!tab) {
      tab = new GoogleDoc();
      this.tabs.set(tabId, tab);
    }
    return tab;
  }

  /** Moves the cursor and records cursor and text length in the edit metadata. */
  setPosition(position: number): void {
    this.lengths.push(this.text.length);
    this.cursor.push(position);
    this.position = position;
  }

  /**
   * Inserts `s` before 1-based index `ibi`; an index past the end first pads with placeholders
   * (itself an insert, so it records its own cursor entry). Cursor ends after the insert.
   */
  insert(ibi: number, s: string): void {
    const nextIndex = this.text.length + 1;
    if (ibi > nextIndex) this.insert(nextIndex, PLACEHOLDER.repeat(ibi - nextIndex));
    this.text = this.text.slice(0, ibi - 1) + s + this.text.slice(ibi - 1);
    this.setPosition(ibi + s.length);
  }

  /**
   * Deletes the inclusive 1-based range `[si, ei]`; cursor ends at `si`. Indices past the end pad
   * first, the original's way: both pads are measured from the length before padding, so a range
   * entirely past the end over-pads (`ds 3..5` on an empty doc leaves 5 placeholders).
   */
  delete(si: number, ei: number): void {
    const lastIndex = this.text.length;
    if (si > lastIndex) this.insert(lastIndex + 1, PLACEHOLDER.repeat(si - lastIndex));
    if (ei > lastIndex) this.insert(lastIndex + 1, PLACEHOLDER.repeat(ei - lastIndex));
    this.text = this.text.slice(0, si - 1) + this.text.slice(ei);
    this.setPosition(si);
  }

  /**
   * Overwrites `sl` units at 1-based `ibi` with `s` (a snapshot entry of `rplc`/`rvrt`), padding
   * past the end like {@link insert}. Does not move the cursor.
   */
  splice(ibi: number, s: string, sl: number): void {
    const nextIndex = this.text.length + 1;
    if (ibi > nextIndex) this.insert(nextIndex, PLACEHOLDER.repeat(ibi - nextIndex));
    this.text = this.text.slice(0, ibi - 1) + s + this.text.slice(ibi + sl - 1);
  }
}
