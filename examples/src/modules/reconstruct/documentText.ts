import { PLACEHOLDER, type ReconstructState } from './GoogleDoc';

/**
 * The document text without the `\u0000` placeholders (text typed before logging started).
 *
 * @example
 * ```ts
 * visibleText({ text: '\u0000\u0000abc' }); // 'abc'
 * ```
 */
export function visibleText(state: Partial<ReconstructState> | null | undefined): string {
  const text = state?.text;
  return typeof text === 'string' ? text.split(PLACEHOLDER).join('') : '';
}

/**
 * Number of words in a text: runs of letters, marks, digits, connector punctuation and
 * apostrophes between other characters (so `don't` and `naïve` are one word each).
 *
 * @example
 * ```ts
 * wordCount('Hello, world! Don\'t stop.'); // 4
 * ```
 */
export function wordCount(text: string): number {
  return text.match(/[\p{L}\p{M}\p{N}\p{Pc}]+(?:['’][\p{L}\p{M}\p{N}\p{Pc}]+)*/gu)?.length ?? 0;
}
