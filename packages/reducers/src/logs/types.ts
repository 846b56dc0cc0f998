import type { LOEvent } from '../events';

/** Why a log line was skipped. */
export type BadLineReason =
  | 'not-json'
  | 'not-object'
  | 'missing-client'
  | 'wrong-type'
  | 'nul-byte'
  | 'invalid-utf8'
  | 'line-too-long'
  | 'unreadable-file';

/** A skipped log line: where it is, why it was skipped, and the start of its text. */
export interface BadLine {
  file: string;
  /** 1-based line number (for `unreadable-file`, the line where reading stopped). */
  line: number;
  reason: BadLineReason;
  /** What is wrong, in words (e.g. "server.time is a string, expected a number"). */
  message: string;
  /** The first characters of the line (at most 80), for reports; empty when it cannot be shown. */
  excerpt: string;
}

/** One event read from a log, with where it came from. */
export interface LogRecord {
  event: LOEvent;
  file: string;
  /** 1-based line number in the (decompressed) file. */
  line: number;
  /** The ISO timestamp after the tab on a `.study.log` line, when there is one. */
  loggedAt?: string;
}

/** Options of {@link readLogEvents}. */
export interface ReadLogOptions {
  /** Called for every skipped line (after it is counted); the reading goes on. */
  onBadLine?: (bad: BadLine) => void;
  /** Longest accepted line in bytes (default 16 MiB); longer lines are skipped as `line-too-long`. */
  maxLineBytes?: number;
  /** Read-chunk size in bytes (default 64 KiB). */
  chunkBytes?: number;
}

/** Running counters of a {@link LogReader}. */
export interface LogReadStats {
  /** Files fully or partly read so far. */
  filesRead: number;
  /** Bytes read from disk so far (compressed bytes for gzip files). */
  bytesRead: number;
  /** Total size on disk of all the files (known once reading has started). */
  totalBytes: number;
  /** Lines seen (blank lines included). */
  lines: number;
  /** Events yielded. */
  events: number;
  /** Skipped lines. */
  badLines: number;
  /** Skipped lines by reason. */
  badByReason: Partial<Record<BadLineReason, number>>;
}
