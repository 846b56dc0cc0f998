import { SeededRandom } from './prng';

/** One writing assignment the simulated students can work on. */
export interface EssayTopic {
  /** Document title; `#tags` in it feed the document-tagging reducer. */
  title: string;
  /** Nouns and noun phrases the sentences are built from. */
  subjects: readonly string[];
  /** Verb phrases ("helps students focus"). */
  claims: readonly string[];
}

/**
 * The topics of the sample essays (titles include `#tags`, one of them non-ASCII).
 * @example
 * ESSAY_TOPICS.map((t) => t.title); // ['Should schools start later? #ela #argument', ...]
 */
export const ESSAY_TOPICS: readonly EssayTopic[] = [
  {
    title: 'Should schools start later? #ela #argument',
    subjects: ['a later start time', 'sleep', 'the first class of the day', 'teenagers', 'the bus schedule', 'after-school sports'],
    claims: ['changes how well students learn', 'matters more than most adults think', 'would cost the district money', 'makes mornings less stressful', 'affects grades and mood'],
  },
  {
    title: 'Lab report: plant growth and light #science',
    subjects: ['the bean plants', 'the plants near the window', 'the control group', 'our measurements', 'the grow lamp', 'the soil'],
    claims: ['grew faster than we predicted', 'needed more water in the second week', 'showed a clear pattern', 'did not support our hypothesis', 'were measured every morning'],
  },
  {
    title: 'Personal narrative draft #ela #narrative',
    subjects: ['my grandmother', 'the old kitchen', 'that summer', 'the bike ride home', 'my little brother', 'the café on the corner'],
    claims: ['taught me to be patient', 'still smells like cinnamon in my memory', 'changed the way I see my town', 'was harder than I expected', 'made everyone laugh'],
  },
  {
    title: 'History essay: the printing press #history',
    subjects: ['the printing press', 'cheaper books', 'ordinary readers', 'news from other cities', 'the church', 'scientists'],
    claims: ['spread ideas faster than ever before', 'changed who could learn to read', 'made some leaders nervous', 'helped people share discoveries', 'is a bit like the internet today'],
  },
  {
    title: 'Résumé du chapitre 3 #français #résumé',
    subjects: ['the main character', 'the narrator', 'the village', 'the letter', 'her naïve friend', 'the storm'],
    claims: ['reveals a secret', 'makes a difficult choice', 'turns the story around', 'is described in great detail', 'leaves the reader curious'],
  },
  {
    title: 'Untitled document',
    subjects: ['this idea', 'the first paragraph', 'my outline', 'the main point', 'the evidence'],
    claims: ['needs more work', 'could be clearer', 'connects to the prompt', 'should come first', 'is my strongest argument'],
  },
];

const OPENERS = ['', '', '', 'In my opinion, ', 'For example, ', 'However, ', 'Also, ', 'Most importantly, ', 'At first, ', 'In the end, '];
const LINKS = ['because', 'since', 'and', 'so', 'although'];

/**
 * Endless, seeded source of essay sentences on one topic: the text a simulated student means to
 * type. Paragraphs end with a newline, the way Google Docs stores them.
 *
 * @example
 * const text = new EssayText(ESSAY_TOPICS[0], new SeededRandom(1));
 * text.nextChar(); // 'I' ... one character at a time
 */
export class EssayText {
  private buffer = '';
  private sentencesInParagraph = 0;

  constructor(
    private readonly topic: EssayTopic,
    private readonly rng: SeededRandom,
  ) {}

  /** The next character the student intends to type. */
  nextChar(): string {
    if (this.buffer.length === 0) this.buffer = this.nextSentence();
    const ch = this.buffer[0];
    this.buffer = this.buffer.slice(1);
    return ch;
  }

  /** A short word or phrase for a later insertion in the middle of the text (a revision). */
  revisionWord(): string {
    return this.rng.pick(['really ', 'also ', 'clearly ', 'often ', 'probably ', 'actually ', 'still ']);
  }

  private nextSentence(): string {
    const r = this.rng;
    const subject = r.pick(this.topic.subjects);
    const claim = r.pick(this.topic.claims);
    let sentence = r.pick(OPENERS) + subject + ' ' + claim;
    if (r.chance(0.4)) sentence += ' ' + r.pick(LINKS) + ' ' + r.pick(this.topic.subjects) + ' ' + r.pick(this.topic.claims);
    sentence = sentence[0].toUpperCase() + sentence.slice(1) + (r.chance(0.1) ? '!' : '.');
    this.sentencesInParagraph++;
    if (this.sentencesInParagraph >= r.int(3, 6)) {
      this.sentencesInParagraph = 0;
      return sentence + '\n';
    }
    return sentence + ' ';
  }
}
