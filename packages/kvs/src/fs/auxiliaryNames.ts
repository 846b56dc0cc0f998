import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { MAX_FILENAME_BYTES } from '../filenameEncoding';

/**
 * Names of the helper files the filesystem store keeps next to a key's file: temp files of
 * in-flight writes, per-key lock files and the lock-breaking guard. They all start with `.`,
 * which the filename encoding never produces, so they can never be mistaken for keys.
 */

/** Short tag of this machine's host name, so temp files of other hosts are never judged by pid. */
export const HOST_TAG = createHash('sha1').update(hostname()).digest('hex').slice(0, 8);

/** Host name stored in lock files. */
export const HOST_NAME = hostname();

let tempCounter = 0;

/** Room kept for the longest suffix (a temp file's), so every helper name of one base agrees. */
const SUFFIX_RESERVE = 48;

/** `.<base><suffix>`, or `.#<hash of base><suffix>` when `base` is too long to leave room for suffixes. */
function auxiliaryName(base: string, suffix: string): string {
  if (Buffer.byteLength(base, 'utf8') + 1 + SUFFIX_RESERVE <= MAX_FILENAME_BYTES) return `.${base}${suffix}`;
  return `.#${createHash('sha256').update(base, 'utf8').digest('hex').slice(0, 40)}${suffix}`;
}

/** A fresh temp-file name for a write of `base` by this process. */
export function tempFileName(base: string): string {
  tempCounter = (tempCounter + 1) % 0x7fffffff;
  const unique = `${tempCounter.toString(36)}${Math.floor(Math.random() * 0x10000).toString(36)}`;
  return auxiliaryName(base, `.${HOST_TAG}-${process.pid}-${unique}.tmp`);
}

/** The lock-file name of `base`. */
export function lockFileName(base: string): string {
  return auxiliaryName(base, '.lock');
}

/** The name of the guard file taken while breaking `base`'s stale lock. */
export function lockGuardFileName(base: string): string {
  return auxiliaryName(base, '.lock.brk');
}

/** What a `.`-prefixed file found in a store folder is. */
export type AuxiliaryFile =
  | { kind: 'temp'; hostTag: string; pid: number }
  | { kind: 'lock' }
  | { kind: 'guard' }
  | { kind: 'other' };

const TEMP_PATTERN = /\.([0-9a-f]{8})-(\d+)-[0-9a-z]+\.tmp$/;

/** Classifies a file name that starts with `.`. */
export function classifyAuxiliaryFile(name: string): AuxiliaryFile {
  const temp = TEMP_PATTERN.exec(name);
  if (temp) return { kind: 'temp', hostTag: temp[1], pid: Number(temp[2]) };
  if (name.endsWith('.lock.brk')) return { kind: 'guard' };
  if (name.endsWith('.lock')) return { kind: 'lock' };
  return { kind: 'other' };
}

/** True when process `pid` runs on this machine (a process of another user counts as running). */
export function processIsAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
