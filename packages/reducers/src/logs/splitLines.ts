/** One physical line of a byte stream. */
export interface RawLine {
  /** 1-based line number. */
  line: number;
  /** The bytes without the line break (`\n` or `\r\n`); `null` when the line was over the cap. */
  bytes: Buffer | null;
  /** Length of the line in bytes (also when it was over the cap). */
  length: number;
}

/**
 * Splits a stream of byte chunks into lines without ever holding more than one line (capped at
 * `maxLineBytes`) plus one chunk: an over-long line is measured and dropped, not buffered.
 *
 * @example
 * ```ts
 * for await (const l of splitLines(fs.createReadStream('a.jsonl'), 1 << 24)) console.log(l.line, l.length);
 * ```
 */
export async function* splitLines(chunks: AsyncIterable<Buffer | string>, maxLineBytes: number): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let length = 0;
  let overLimit = false;
  let line = 0;
  const finish = (): RawLine => {
    line += 1;
    let bytes: Buffer | null = null;
    if (!overLimit) {
      bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
      if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    }
    const result = { line, bytes, length: bytes ? bytes.length : length };
    parts = [];
    length = 0;
    overLimit = false;
    return result;
  };
  const take = (piece: Buffer) => {
    length += piece.length;
    if (overLimit) return;
    if (length > maxLineBytes) {
      overLimit = true;
      parts = [];
      return;
    }
    // Copy: the piece may be a view into a chunk the stream reuses.
    parts.push(Buffer.from(piece));
  };
  for await (const raw of chunks) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      take(chunk.subarray(start, nl));
      yield finish();
      start = nl + 1;
    }
    if (start < chunk.length) take(chunk.subarray(start));
  }
  if (length > 0 || parts.length > 0 || overLimit) yield finish();
}
