/**
 * Writing output files safely: report paths are checked before anything is deployed (a directory that cannot be
 * made, a path that is not a regular file, two outputs on one file), directories are made one level at a time,
 * and files are opened without following a symlink in their last component. meshprobe runs as root, so a path a
 * user can plant a symlink into must never redirect a write.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface OutputFile {
  /** What the file is, for messages: "--json", "report-dir/junit.xml". */
  label: string;
  path: string;
  /**
   * Refuse a symlink as the last component: for files meshprobe names itself (report.json inside --report-dir),
   * where a link can only have been planted. A path given explicitly may be a link; its target is written.
   */
  noLink?: boolean;
}

export interface CheckedOutputs {
  errors: string[];
  /** The resolved real path of each file, in order: what to write (opened without following links). */
  paths: string[];
  /** Why each file cannot be written, in order (undefined: it can). */
  problems: Array<string | undefined>;
}

const errno = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** One line naming an fs error: "ENOSPC (no space left on device)". */
export function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EPIPE: 'the reader closed the pipe',
    EIO: 'input/output error',
    EACCES: 'permission denied',
    EROFS: 'read-only file system',
    ENOENT: 'no such file or directory',
    ENOTDIR: 'a path component is not a directory',
    EEXIST: 'already exists',
    ELOOP: 'a symbolic link where none is allowed',
    EISDIR: 'is a directory',
    EPERM: 'operation not permitted',
  };
  if (e.code && known[e.code]) return `${e.code} (${known[e.code]})`;
  return String(e.message ?? err);
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The path the kernel would reach, without requiring it to exist: existing components are resolved through their
 * symlinks one by one (so `link/..` means the link target's parent, as for open()), the missing rest is appended.
 */
export async function resolveReal(p: string, depth = 0): Promise<string> {
  if (depth > 40) throw Object.assign(new Error(`${p}: too many levels of symbolic links`), { code: 'ELOOP' });
  // Not path.resolve: it drops ".." lexically, which differs from the kernel's reading after a symlink.
  const raw = path.isAbsolute(p) ? p.split(path.sep) : [...process.cwd().split(path.sep), ...p.split(path.sep)];
  let current: string = path.sep;
  let missing = false;
  for (const [i, part] of raw.entries()) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, part);
    const st = missing ? undefined : await lstatOrUndefined(next);
    if (!st) {
      missing = true;
      current = next;
    } else if (!st.isSymbolicLink()) current = next;
    else {
      // Followed by hand: a link to a file not yet written (a report from an earlier run) still names that file.
      const target = await readlink(next);
      const rest = raw.slice(i + 1).join(path.sep);
      const via = path.isAbsolute(target) ? target : `${current}${path.sep}${target}`;
      return resolveReal(rest ? `${via}${path.sep}${rest}` : via, depth + 1);
    }
  }
  return current;
}

/**
 * Makes a directory and its missing parents one level at a time. Node's recursive mkdir retries forever when a
 * parent exists but the child can never be made (mkdir /proc/x keeps answering ENOENT): this gives up at once.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    const st = await lstatOrUndefined(current).catch(() => undefined);
    if (st) {
      const target = st.isSymbolicLink() ? await stat(current) : st;
      if (!target.isDirectory()) throw Object.assign(new Error(`${current} is not a directory`), { code: 'ENOTDIR' });
      break;
    }
    missing.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
  }
}

async function checkOne(file: OutputFile): Promise<string | undefined> {
  const dir = path.dirname(path.resolve(file.path));
  try {
    await makeDirs(dir);
  } catch (err) {
    return `cannot create the directory ${dir}: ${describeError(err)}`;
  }
  const link = await lstatOrUndefined(file.path).catch(() => undefined);
  if (file.noLink && link?.isSymbolicLink()) return `is a symbolic link; meshprobe does not write through links it did not get named`;
  const st = await stat(file.path).catch((err: unknown) => (errno(err) === 'ENOENT' ? undefined : err));
  if (st instanceof Error) return describeError(st);
  if (st && !(st as Stats).isFile()) return `exists and is not a regular file`;
  // Writable as this process can tell only by trying: a file that is created with O_EXCL and removed again.
  const probe = path.join(dir, `.meshprobe-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const h = await open(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await h.close();
    await unlink(probe);
  } catch (err) {
    return `the directory ${dir} is not writable: ${describeError(err)}`;
  }
  return undefined;
}

/**
 * Checks that every output can be written and that no two share a file (compared as resolved real paths, so a
 * symlink or a relative path naming the same file counts). Creates missing directories. Returns error lines.
 */
export async function checkOutputFiles(files: readonly OutputFile[]): Promise<CheckedOutputs> {
  const paths: string[] = [];
  const problems: Array<string | undefined> = [];
  const seen = new Map<string, OutputFile>();
  for (const f of files) {
    let problem = await checkOne(f);
    const real = await resolveReal(f.path).catch(() => path.resolve(f.path));
    paths.push(real);
    const same = seen.get(real);
    if (!problem && same) problem = `is the same file as ${same.label} ${same.path} (${real}); give each output its own path`;
    else if (!problem) seen.set(real, f);
    problems.push(problem);
  }
  const errors = files.flatMap((f, i) => (problems[i] ? [`${f.label} ${f.path}: ${problems[i]}`] : []));
  return { errors, paths, problems };
}

/**
 * Writes a whole file, following no symlink in its last component and refusing anything but a regular file. On a
 * failed write (ENOSPC, EIO) the partial file is removed so a truncated report is never taken for a report.
 */
export async function writeOutputFile(file: string, text: string): Promise<void> {
  const h = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  let written = false;
  try {
    const st = await h.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'EINVAL' });
    // A second name for someone else's file (a hard link planted in a writable directory) is not ours to truncate.
    if (st.nlink > 1) throw Object.assign(new Error(`${file} has ${st.nlink} hard links; remove it first`), { code: 'EMLINK' });
    await h.truncate(0);
    written = true;
    await h.writeFile(text);
    // Some file systems report ENOSPC or EIO only when the data is flushed.
    await h.sync();
  } catch (err) {
    await h.close().catch(() => undefined);
    if (written) await unlink(file).catch(() => undefined);
    throw err;
  }
  await h.close();
}

/** A path segment meshprobe makes a file or directory of: no separators, no ".", "..", hidden or empty names. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

async function ensureRealDir(dir: string, root: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
  }
  const st = await lstat(dir);
  if (st.isSymbolicLink() || !st.isDirectory())
    throw new UnsafePathError(
      `${path.relative(root, dir)} inside ${root} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; meshprobe writes only real directories there`,
    );
}

/**
 * Writes files under `root`, each named by a relative path whose segments are checked (refused, all before any is
 * written, when a name from the input would leave `root`). Directories inside `root` must be real ones, files are
 * opened without following links, and every target is checked to resolve inside `root`.
 */
export async function writeTree(root: string, files: ReadonlyArray<{ rel: string; text: string }>): Promise<void> {
  const bad = files.filter((f) => !f.rel.split(/[\\/]/).every((s) => SEGMENT.test(s)));
  if (bad.length) {
    throw new UnsafePathError(
      `refusing to write outside or around ${root}: ${bad.map((f) => JSON.stringify(f.rel)).join(', ')} ${bad.length === 1 ? 'is not a plain relative file name' : 'are not plain relative file names'} (a name from the input contains a path separator, "..", or a character other than letters, digits, ".", "_" and "-")`,
    );
  }
  await makeDirs(root);
  const real = await realpath(root);
  for (const f of files) {
    const segments = f.rel.split(/[\\/]/);
    let dir = real;
    for (const s of segments.slice(0, -1)) {
      dir = path.join(dir, s);
      await ensureRealDir(dir, real);
    }
    const target = path.join(dir, segments[segments.length - 1]);
    if (!target.startsWith(real + path.sep)) throw new UnsafePathError(`${f.rel} resolves outside ${root}`);
    await writeOutputFile(target, f.text);
  }
}

/** `value` when it can be used as one path segment as it is; otherwise an UnsafePathError naming `what`. */
export function plainSegment(what: string, value: string): string {
  if (SEGMENT.test(value)) return value;
  throw new UnsafePathError(
    `${what} ${JSON.stringify(value)} cannot name a file: only letters, digits, ".", "_" and "-" are written, starting with a letter or digit`,
  );
}
