import { EssayText, ESSAY_TOPICS } from './essayText';
import { BACKSPACE, keyFor, KeyInfo, SHIFT, typoFor } from './keyboard';
import { SeededRandom } from './prng';
import { DocsBundle, DocsCommand, SampleEvent } from './types';

/**
 * `client.source` of every writing-observer event.
 * @example
 * event.client.source === WRITING_SOURCE; // true for every generated event
 */
export const WRITING_SOURCE = 'org.mitros.writing_analytics';
const VERSION = '0.01';
const OBJECT_TYPE = 'http://schema.learning-observer.org/writing-observer/';
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const HEX = '0123456789abcdef';

/** A generated event with its arrival time in integer milliseconds (the merge key). */
export interface TimedEvent {
  serverMs: number;
  event: SampleEvent;
}

/** One simulated Google Doc: the text the student has typed so far and the editor's state. */
interface SimDoc {
  id: string;
  title: string;
  text: string;
  essay: EssayText;
  cursor: number;
  rev: number;
  loaded: boolean;
  sid: string;
  reqId: number;
  pageLoadMs: number;
}

/** What the generator needs to simulate one student. */
export interface StudentPlan {
  studentId: string;
  events: number;
  docsPerStudent: number;
  startMs: number;
  rng: SeededRandom;
}

/**
 * Simulates one student writing in Google Docs and yields exactly `plan.events` events in arrival
 * order: keystrokes, `google_docs_save` requests whose commands replay the typed text, a
 * `document_history` on each document load, `visibility` changes, pauses and idle gaps over 60 s.
 * The final text of every document equals what its saves (after the last history) rebuild.
 *
 * @example
 * const sim = new StudentSimulator({ studentId: 's1', events: 100, docsPerStudent: 2, startMs: 1.7e12, rng: new SeededRandom(1) });
 * const events = [...sim.events()].map((t) => t.event);
 * sim.texts(); // what the saves rebuild, per document id
 */
export class StudentSimulator {
  private readonly rng: SeededRandom;
  private readonly docs: SimDoc[];
  private readonly googleId: string;
  private readonly typingMs: number;
  private t: number;
  private lastServerMs = 0;
  private remaining: number;
  private current: SimDoc | null = null;
  private pending: DocsCommand[] = [];
  private lastSaveMs = 0;
  private saveEveryMs = 2000;
  private insertQueue = '';
  private lastTyped = '';

  constructor(private readonly plan: StudentPlan) {
    this.rng = plan.rng;
    this.remaining = plan.events;
    this.t = plan.startMs;
    this.googleId = '1' + this.rng.string(20, '0123456789');
    this.typingMs = this.rng.int(120, 260);
    const topics = [...ESSAY_TOPICS];
    this.docs = [];
    for (let i = 0; i < plan.docsPerStudent; i++) {
      if (topics.length === 0) topics.push(...ESSAY_TOPICS);
      const topic = topics.splice(this.rng.int(0, topics.length - 1), 1)[0];
      const round = Math.floor(i / ESSAY_TOPICS.length);
      const title = round === 0 ? topic.title : `${topic.title} (${round + 1})`;
      const heading = this.rng.chance(0.3) ? title.replace(/\s*#\S+/gu, '') + '\n' : '';
      this.docs.push({
        id: this.rng.string(44, ID_ALPHABET),
        title,
        text: heading,
        essay: new EssayText(topic, this.rng.fork()),
        cursor: heading.length,
        rev: heading ? 1 : 0,
        loaded: false,
        sid: '',
        reqId: 0,
        pageLoadMs: 0,
      });
    }
  }

  /** The documents' current texts, by document id (what reconstruction must give at the end). */
  texts(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.docs) out[d.id] = d.text;
    return out;
  }

  /** The events, lazily, in arrival order. */
  *events(): Generator<TimedEvent> {
    while (this.remaining > 0) {
      const doc = this.current;
      if (doc === null) {
        yield* this.open(this.docs[0]);
        continue;
      }
      if (this.pending.length > 0 && (this.remaining === 1 || this.t - this.lastSaveMs >= this.saveEveryMs)) {
        yield this.save(doc);
        continue;
      }
      if (this.insertQueue === '' && /[.!\n ]/.test(this.lastTyped) && this.boundaryAction(doc)) {
        // A boundary action needs the pending edits saved first; it runs on the next turn.
        if (this.pending.length > 0) {
          yield this.save(doc);
          continue;
        }
        yield* this.runBoundaryAction(doc);
        continue;
      }
      yield* this.typeNext(doc);
    }
  }

  // ---- actions -------------------------------------------------------------------------------

  private plannedBoundary: 'switch' | 'idle' | 'revise' | 'cut' | 'pause' | null = null;

  /** Decides (once per boundary) what the student does after a word or sentence; true if it emits events. */
  private boundaryAction(doc: SimDoc): boolean {
    if (this.plannedBoundary === null) {
      const r = this.rng;
      const paragraphEnd = this.lastTyped === '\n';
      if (this.lastTyped === ' ') {
        // Between words: now and then a pause to think, rarely a long break.
        if (r.chance(0.012)) this.plannedBoundary = 'idle';
        else {
          if (r.chance(0.04)) this.t += r.int(2000, 20000);
          this.lastTyped = '';
          return false;
        }
      } else if (this.docs.length > 1 && r.chance(paragraphEnd ? 0.5 : 0.1)) this.plannedBoundary = 'switch';
      else if (r.chance(0.15)) this.plannedBoundary = 'idle';
      else if (doc.text.length > 120 && r.chance(0.08)) this.plannedBoundary = 'revise';
      else if (doc.text.length > 120 && r.chance(0.05)) this.plannedBoundary = 'cut';
      else this.plannedBoundary = 'pause';
      if (this.plannedBoundary === 'pause') {
        this.t += r.chance(0.3) ? r.int(2000, 25000) : r.int(300, 1500);
        this.plannedBoundary = null;
        this.lastTyped = '';
        return false;
      }
      if (this.plannedBoundary === 'revise') {
        // Click back into the text and insert a word there; typing returns to the end afterwards.
        const spaces: number[] = [];
        for (let i = 1; i < doc.text.length - 40; i++) if (doc.text[i - 1] === ' ') spaces.push(i);
        this.plannedBoundary = null;
        this.lastTyped = '';
        if (spaces.length > 0) {
          doc.cursor = r.pick(spaces);
          this.insertQueue = doc.essay.revisionWord();
          this.t += r.int(1500, 6000);
        }
        return false;
      }
    }
    return true;
  }

  private *runBoundaryAction(doc: SimDoc): Generator<TimedEvent> {
    const action = this.plannedBoundary;
    const r = this.rng;
    if (action === 'switch' && this.remaining >= 3) {
      const others = this.docs.filter((d) => d !== doc);
      const next = r.pick(others);
      yield this.visibility(doc);
      this.t += r.int(1500, 9000);
      yield* this.open(next);
    } else if (action === 'idle' && this.remaining >= 3) {
      yield this.visibility(doc);
      this.t += r.int(70_000, 900_000);
      yield this.visibility(doc);
    } else if (action === 'cut' && this.remaining >= 2) {
      // Select a word in the middle of the text and delete it with Backspace.
      const words: [number, number][] = [];
      const re = / [a-z]+(?= )/g;
      let m: RegExpExecArray | null;
      while ((m = re.exec(doc.text)) !== null && m.index < doc.text.length - 40) words.push([m.index + 1, m.index + m[0].length]);
      if (words.length > 0) {
        const [si, ei] = r.pick(words);
        this.t += r.int(2000, 8000);
        doc.text = doc.text.slice(0, si - 1) + doc.text.slice(ei);
        doc.cursor = doc.text.length;
        this.pending.push({ ty: 'ds', si, ei });
        yield this.keystroke(doc, BACKSPACE);
      }
    }
    this.plannedBoundary = null;
    this.lastTyped = '';
  }

  private *typeNext(doc: SimDoc): Generator<TimedEvent> {
    const r = this.rng;
    // Every text change needs one more event for the save that carries it.
    if (this.remaining < 2) {
      yield this.visibility(doc);
      return;
    }
    const fromQueue = this.insertQueue !== '';
    const ch = fromQueue ? this.insertQueue[0] : doc.essay.nextChar();
    const key = keyFor(ch);
    const typo = /[a-z]/.test(ch) ? typoFor(ch, (s) => r.pick(s.split(''))) : undefined;
    if (typo !== undefined && this.remaining >= 4 && r.chance(0.03)) {
      this.advance(1);
      this.insert(doc, typo);
      yield this.keystroke(doc, keyFor(typo));
      this.advance(2.5);
      this.backspace(doc);
      yield this.keystroke(doc, BACKSPACE);
    }
    if (key.shiftKey && this.remaining >= 3) {
      this.advance(0.6);
      yield this.keystroke(doc, SHIFT);
    }
    this.advance(ch === ' ' ? 1.4 : 1);
    this.insert(doc, ch);
    yield this.keystroke(doc, key);
    if (fromQueue) {
      this.insertQueue = this.insertQueue.slice(1);
      if (this.insertQueue === '') doc.cursor = doc.text.length;
    } else {
      this.lastTyped = ch;
    }
  }

  private *open(doc: SimDoc): Generator<TimedEvent> {
    this.current = doc;
    if (!doc.loaded) {
      doc.loaded = true;
      doc.sid = this.rng.string(16, HEX);
      doc.reqId = 0;
      doc.pageLoadMs = this.t - this.rng.int(800, 3000);
      yield this.history(doc);
    } else {
      yield this.visibility(doc);
    }
    this.lastSaveMs = this.t;
    this.t += this.rng.int(1000, 5000);
  }

  // ---- text buffer -----------------------------------------------------------------------------

  private insert(doc: SimDoc, s: string): void {
    const ibi = doc.cursor + 1;
    doc.text = doc.text.slice(0, doc.cursor) + s + doc.text.slice(doc.cursor);
    doc.cursor += s.length;
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && last.ty === 'is' && last.ibi + last.s.length === ibi) last.s += s;
    else this.pending.push({ ty: 'is', ibi, s });
  }

  private backspace(doc: SimDoc): void {
    if (doc.cursor === 0) return;
    const index = doc.cursor; // 1-based index of the character before the cursor
    doc.text = doc.text.slice(0, index - 1) + doc.text.slice(index);
    doc.cursor -= 1;
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined && last.ty === 'ds' && last.si - 1 === index) last.si = index;
    else this.pending.push({ ty: 'ds', si: index, ei: index });
  }

  private advance(factor: number): void {
    this.t += Math.round(this.typingMs * factor * this.rng.float(0.5, 1.8));
  }

  // ---- event builders --------------------------------------------------------------------------

  private envelope(client: SampleEvent['client']): TimedEvent {
    this.remaining -= 1;
    const serverMs = Math.max(this.lastServerMs + 1, this.t + this.rng.int(8, 90));
    this.lastServerMs = serverMs;
    return {
      serverMs,
      event: {
        client,
        metadata: { auth: { safe_user_id: this.plan.studentId } },
        server: { time: serverMs / 1000 },
      },
    };
  }

  private object(doc: SimDoc): Record<string, unknown> {
    return { type: OBJECT_TYPE, title: doc.title, id: doc.id, url: `https://docs.google.com/document/d/${doc.id}/edit` };
  }

  private clientMetadata(): Record<string, unknown> {
    return { ts: this.t, iso_ts: new Date(this.t).toISOString() };
  }

  private keystroke(doc: SimDoc, key: KeyInfo): TimedEvent {
    return this.envelope({
      event: 'keystroke',
      source: WRITING_SOURCE,
      version: VERSION,
      event_type: 'keystroke',
      keystroke: {
        altKey: false,
        charCode: 0,
        code: key.code,
        ctrlKey: false,
        isComposing: false,
        isTrusted: true,
        key: key.key,
        keyCode: key.keyCode,
        location: key === SHIFT ? 1 : 0,
        metaKey: false,
        repeat: false,
        shiftKey: key.shiftKey,
        'target.localName': 'body',
        'target.nodeType': 1,
        timeStamp: this.t - doc.pageLoadMs,
        type: 'keydown',
        which: key.keyCode,
      },
      frameindex: '1',
      object: this.object(doc),
      doc_id: doc.id,
      readyState: 'complete',
      wa_source: 'client_page',
      metadata: this.clientMetadata(),
    });
  }

  private visibility(doc: SimDoc): TimedEvent {
    return this.envelope({
      event: 'visibility',
      source: WRITING_SOURCE,
      version: VERSION,
      event_type: 'visibility',
      visibility: { bubbles: false, cancelable: false, isTrusted: true, timeStamp: this.t - doc.pageLoadMs, type: 'visibilitychange' },
      frameindex: '0',
      object: this.object(doc),
      doc_id: doc.id,
      readyState: 'complete',
      wa_source: 'client_page',
      metadata: this.clientMetadata(),
    });
  }

  /** `document_history` as sent on page load: a changelog that rebuilds the text from empty. */
  private history(doc: SimDoc): TimedEvent {
    const chunks: string[] = [];
    for (let i = 0; i < doc.text.length; i += 200) chunks.push(doc.text.slice(i, i + 200));
    const changelog = chunks.map((s, i) => [
      { ty: 'is', ibi: i * 200 + 1, s },
      this.t - (chunks.length - i) * 45_000,
      this.googleId,
      i + 1,
      this.rng.string(16, HEX),
      i + 1,
      null,
      null,
    ]);
    return this.envelope({
      event: 'document_history',
      source: WRITING_SOURCE,
      version: VERSION,
      history: { changelog },
      object: this.object(doc),
      doc_id: doc.id,
      readyState: 'complete',
      wa_source: 'client_page',
      metadata: this.clientMetadata(),
    });
  }

  /** A `google_docs_save` carrying the pending commands, in one or two bundles. */
  private save(doc: SimDoc): TimedEvent {
    const r = this.rng;
    let groups: DocsCommand[][] = [this.pending];
    if (this.pending.length >= 2 && r.chance(0.4)) {
      const cut = r.int(1, this.pending.length - 1);
      groups = [this.pending.slice(0, cut), this.pending.slice(cut)];
    }
    const bundles: DocsBundle[] = groups.map((commands) => {
      let cmds = commands;
      if (cmds.length >= 2 && r.chance(0.5)) cmds = [{ ty: 'mlti', mts: cmds }];
      return { commands: cmds, sid: doc.sid, reqId: doc.reqId++ };
    });
    if (doc.text.length > 0 && r.chance(0.1)) {
      // Formatting (bold) on the last few characters: changes nothing in the text.
      const ei = doc.text.length;
      const si = Math.max(1, ei - r.int(3, 20));
      bundles[bundles.length - 1].commands.push({ ty: 'as', st: 'text', si, ei, sm: { ts_bd: true, ts_bd_i: false } });
    }
    doc.rev += 1;
    this.pending = [];
    this.lastSaveMs = this.t;
    this.saveEveryMs = r.int(1200, 3500);
    this.t += r.int(5, 40);
    return this.envelope({
      event: 'google_docs_save',
      source: WRITING_SOURCE,
      version: VERSION,
      doc_id: doc.id,
      url: `https://docs.google.com/document/d/${doc.id}/save?id=${doc.id}&sid=${doc.sid}&vc=1&c=1&w=1&smv=2&includes_info_params=true`,
      bundles,
      rev: String(doc.rev),
      timestamp: this.t,
      metadata: this.clientMetadata(),
    });
  }
}
