import { formatCount } from './format';
import type { ReplaySummary } from './replayLogs';

/**
 * The human-readable replay summary: events, skipped lines with reasons (counts, then the first
 * few with file:line), reducer errors (reducer, key, file:line), keys written, elapsed time.
 *
 * @example
 * io.stdout.write(replaySummaryText(summary));
 */
export function replaySummaryText(s: ReplaySummary): string {
  const out: string[] = [];
  const files = s.files.length === 1 ? '1 file' : `${s.files.length} files`;
  out.push(
    `Replayed ${formatCount(s.events)} events from ${files} in ${s.elapsedSeconds.toFixed(1)} s ` +
      `(${formatCount(s.eventsPerSecond)} events/s) through ${s.modules.join(', ')}.`,
  );
  out.push(`Store: ${s.store.name} (${s.store.type}). Keys written: ${formatCount(s.keysWritten)} (${formatCount(s.reducerRuns)} reducer runs).`);
  if (s.resume) {
    const from = s.sequencePath !== null ? ` Positions from ${s.sequencePath}.` : '';
    out.push(`Resume: ${formatCount(s.alreadyApplied)} reducer runs skipped (already in the store).${from}`);
  }
  if (s.badSequence.total > 0) {
    out.push(`Events not applied, no valid position at ${s.sequencePath ?? '(sequence path)'}: ${formatCount(s.badSequence.total)}.`);
    for (const b of s.badSequence.first) out.push(`  ${b.file}:${b.line}: ${b.message}`);
    if (s.badSequence.total > s.badSequence.first.length) out.push(`  ... and ${formatCount(s.badSequence.total - s.badSequence.first.length)} more`);
  }
  if (s.skipped.total === 0) {
    out.push('Skipped lines: 0.');
  } else {
    const reasons = Object.entries(s.skipped.byReason)
      .map(([r, n]) => `${r} ${formatCount(n ?? 0)}`)
      .join(', ');
    out.push(`Skipped lines: ${formatCount(s.skipped.total)} (${reasons}).`);
    for (const b of s.skipped.first) out.push(`  ${b.file}:${b.line}: ${b.reason}: ${b.message}`);
    if (s.skipped.total > s.skipped.first.length) out.push(`  ... and ${formatCount(s.skipped.total - s.skipped.first.length)} more`);
  }
  if (s.reducerErrors.total === 0) {
    out.push('Reducer errors: 0.');
  } else {
    const by = Object.entries(s.reducerErrors.byReducer)
      .map(([r, n]) => `${r} ${formatCount(n)}`)
      .join(', ');
    out.push(`Reducer errors: ${formatCount(s.reducerErrors.total)} (${by}).`);
    for (const e of s.reducerErrors.first) {
      const where = e.file !== undefined ? `${e.file}:${e.line}` : '(unknown line)';
      out.push(`  ${where}: ${e.reducer} key ${e.key}: ${e.message}`);
    }
    if (s.reducerErrors.total > s.reducerErrors.first.length) {
      out.push(`  ... and ${formatCount(s.reducerErrors.total - s.reducerErrors.first.length)} more`);
    }
  }
  return out.join('\n') + '\n';
}
