/**
 * How the lab (running as root) creates and reads its state files. Nothing a non-root user controls is trusted:
 * directories and files are root-owned with modes set explicitly on the open descriptor (so the caller's umask
 * never matters), new files are created exclusively, and no path is opened through a symlink (O_NOFOLLOW). A file
 * is read back into a report only when it is a regular, root-owned, single-link file nobody else may write.
 */
import {
  chmodSync,
  closeSync,
  constants as C,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { TargetError } from '../target.js';

/** Root-only state: directories 0700, files and sockets 0600. */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;
/** What pod processes running as other uids must read (the staged agent, CA certificates): read-only for them. */
export const PUBLIC_DIR = 0o755;
export const PUBLIC_FILE = 0o644;
/** A lab directory: others may pass through to a public file they know the name of, not list or write. */
export const LAB_DIR = 0o711;

function checkOwned(path: string, st: Stats, what: string): void {
  if (st.uid !== 0)
    throw new TargetError(`${path}: ${what} is owned by uid ${st.uid}, not root; the lab does not use it`, `remove ${path} (as root) and run again`);
  if ((st.mode & 0o022) !== 0)
    throw new TargetError(
      `${path}: ${what} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); the lab does not use it`,
      `remove ${path} (as root) and run again`,
    );
}

/**
 * Creates `path` as a root-owned directory with exactly `mode`, or adopts an existing one only if it is a real
 * directory (not a symlink) owned by root and writable by nobody else (its mode is then set to `mode`).
 */
export function rootDir(path: string, mode: number): void {
  try {
    mkdirSync(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let fd: number;
  try {
    fd = openSync(path, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  } catch (err) {
    throw new TargetError(
      `${path}: not a directory the lab can use (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); a symlink is never followed`,
      `remove ${path} (as root) and run again`,
    );
  }
  try {
    checkOwned(path, fstatSync(fd), 'the directory');
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/** Writes a new root-owned file with exactly `mode` (refuses an existing file or symlink there: O_EXCL, O_NOFOLLOW). */
export function writeNewFile(path: string, data: string | Uint8Array, mode: number = PRIVATE_FILE): void {
  const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode);
  try {
    fchmodSync(fd, mode);
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

/** Appends to a file the lab created (never through a symlink, never creating one). Returns false when it is gone. */
export function appendOwnFile(path: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, C.O_WRONLY | C.O_APPEND | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== 0) return false;
    writeSync(fd, text);
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a file the lab wrote: a regular file, not a symlink, root-owned, one link, writable by nobody else.
 * Anything else is refused with a TargetError (a planted file's content never reaches a report).
 */
export function readOwnFile(path: string, maxBytes = 4 * 1024 * 1024): string {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted in its place must not block the lab; it is then refused as not a regular file.
    fd = openSync(path, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (err) {
    throw new TargetError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1) throw new TargetError(`${path} is not a regular file the lab wrote; not read`);
    checkOwned(path, st, 'the file');
    const size = Math.min(st.size, maxBytes);
    const buf = Buffer.alloc(size);
    let got = 0;
    // The last `maxBytes` of a long log: what a report shows is its tail.
    const start = st.size - size;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Makes the unix socket the lab's runtime created at `path` root-only (0600), after checking it is one. */
export function secureSocket(path: string): void {
  const st = lstatSync(path);
  if (!st.isSocket() || st.uid !== 0) throw new TargetError(`${path} is not the root-owned socket the lab runtime created`);
  // chmod follows a symlink (a socket cannot be opened to fchmod it), but `path` was just checked not to be one
  // and its directory is root-only (0700): nobody else can swap it in between.
  chmodSync(path, PRIVATE_FILE);
}
