import { Presets, SingleBar } from 'cli-progress';
import { formatBytes, formatCount, formatDuration } from './format';
import type { CliIO } from './io';

/** What a progress display reads, whenever it refreshes. */
export interface ProgressSnapshot {
  events: number;
  bytesRead: number;
  totalBytes: number;
}

/** Options of {@link startProgress}. */
export interface ProgressOptions {
  /** Word before the figures (`replay`). */
  label: string;
  /** `bar` (terminal), `lines` (periodic plain lines) or `none`. Default: `bar` on a TTY, else `lines`. */
  mode?: 'bar' | 'lines' | 'none';
  /** Seconds between plain lines (default 5). */
  intervalSeconds?: number;
}

/**
 * Shows replay progress on stderr: a progress bar on a terminal (events, events/s, ETA from the
 * bytes read of the total file size), plain periodic lines otherwise (logs, CI). Returns a
 * function that stops it (and draws the bar a last time).
 *
 * @example
 * const stop = startProgress(io, () => reader.stats, { label: 'replay' });
 * // ... replay ...
 * stop();
 */
export function startProgress(io: CliIO, snapshot: () => ProgressSnapshot, options: ProgressOptions): () => void {
  const mode = options.mode ?? (io.isTTY ? 'bar' : 'lines');
  if (mode === 'none') return () => undefined;
  const started = Date.now();
  const rate = (events: number) => {
    const seconds = (Date.now() - started) / 1000;
    return seconds > 0 ? events / seconds : 0;
  };
  // ETA from the share of bytes read. Reading runs a little ahead of processing (one read chunk
  // plus stream buffers), which only matters for small files: at the end it says "finishing".
  const etaText = (s: ProgressSnapshot): string => {
    const fraction = s.totalBytes > 0 ? s.bytesRead / s.totalBytes : 0;
    if (fraction <= 0) return '?';
    if (fraction >= 1) return 'finishing';
    const elapsed = (Date.now() - started) / 1000;
    return formatDuration((elapsed * (1 - fraction)) / fraction);
  };
  if (mode === 'bar') {
    const bar = new SingleBar(
      {
        stream: io.stderr as NodeJS.WritableStream,
        format: `${options.label} [{bar}] {percentage}% | {events} events | {rate} events/s | ETA {eta_text}`,
        hideCursor: true,
        etaBuffer: 40,
        fps: 5,
      },
      Presets.shades_classic,
    );
    const first = snapshot();
    bar.start(Math.max(1, first.totalBytes), first.bytesRead, { events: '0', rate: '0', eta_text: '?' });
    const timer = setInterval(() => {
      const s = snapshot();
      bar.setTotal(Math.max(1, s.totalBytes));
      bar.update(s.bytesRead, { events: formatCount(s.events), rate: formatCount(rate(s.events)), eta_text: etaText(s) });
    }, 200);
    timer.unref();
    return () => {
      clearInterval(timer);
      const s = snapshot();
      bar.update(Math.max(1, s.totalBytes), { events: formatCount(s.events), rate: formatCount(rate(s.events)), eta_text: '0:00' });
      bar.stop();
    };
  }
  const timer = setInterval(() => {
    const s = snapshot();
    const fraction = s.totalBytes > 0 ? s.bytesRead / s.totalBytes : 0;
    io.stderr.write(
      `${options.label}: ${formatCount(s.events)} events, ${Math.floor(fraction * 100)}% of ${formatBytes(s.totalBytes)}, ` +
        `${formatCount(rate(s.events))} events/s, ETA ${etaText(s)}\n`,
    );
  }, (options.intervalSeconds ?? 5) * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
