/**
 * A whole number with thousands separators.
 *
 * @example
 * formatCount(12345); // '12,345'
 */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * Seconds as `m:ss` (or `h:mm:ss` from one hour).
 *
 * @example
 * formatDuration(452.6); // '7:33'
 */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * Bytes in B, KB, MB or GB (powers of 1024, one decimal).
 *
 * @example
 * formatBytes(1536); // '1.5 KB'
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * A plain-text table: by default the first column left-aligned, the others right-aligned
 * (`align` overrides that per column).
 *
 * @example
 * renderTable(['Student', 'Words'], [['s1', '12']]);
 * // 'Student  Words\n-------  -----\ns1          12\n'
 */
export function renderTable(header: string[], rows: string[][], footer?: string[], align?: ('left' | 'right')[]): string {
  const all = footer ? [header, ...rows, footer] : [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => ((align?.[c] ?? (c === 0 ? 'left' : 'right')) === 'left' ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd() + '\n';
  const rule = widths.map((w) => '-'.repeat(w)).join('  ') + '\n';
  return line(header) + rule + rows.map(line).join('') + (footer ? rule + line(footer) : '');
}
