/**
 * Where a finding is written. The directory comes from the command line and the names inside it are fixed, but
 * the tree may have been prepared by someone else (meshprobe runs as root): no component of the directory may be
 * a symbolic link, and each file is opened with O_NOFOLLOW, so nothing is ever written outside the directory.
 */
import { constants, lstatSync, mkdirSync, openSync, type Stats, writeSync, closeSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

export class OutputError extends Error {}

/** Creates `dir` (and missing parents) refusing any symbolic link on the way from the working directory, or from / when absolute. */
export function prepareDir(dir: string): string {
  const full = resolve(dir);
  const base = isAbsolute(dir) ? sep : process.cwd();
  const parts = relative(base, full).split(sep).filter(Boolean);
  if (parts.includes('..')) throw new OutputError(`${dir}: the output directory must not climb out with ".."`);
  let at = base;
  for (const part of parts) {
    at = join(at, part);
    let info: Stats;
    try {
      info = lstatSync(at);
    } catch {
      mkdirSync(at, { mode: 0o755 });
      continue;
    }
    if (info.isSymbolicLink()) throw new OutputError(`${at} is a symbolic link: refusing to write a finding through it`);
    if (!info.isDirectory()) throw new OutputError(`${at} exists and is not a directory`);
  }
  return full;
}

/** Writes one file inside a prepared directory; a file name with a separator, or a symlink in its place, is refused. */
export function writeInside(dir: string, name: string, text: string, mode = 0o644): string {
  if (name.includes('/') || name.includes('\\') || name === '..' || name === '.') throw new OutputError(`bad file name ${JSON.stringify(name)}`);
  const path = join(dir, name);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OutputError(code === 'ELOOP' ? `${path} is a symbolic link: refusing to follow it` : `cannot write ${path}: ${(err as Error).message}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return path;
}
