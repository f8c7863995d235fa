/**
 * Reading input files that may be hostile (scenario files, workloads files, policies directories from a pull
 * request): every failure becomes a FileProblem about that one file — with a line and column where there is one —
 * so the caller can go on with the other files and still print its report.
 *
 *   readSource(file)               → string | FileProblem    size cap, strict UTF-8, never blocks on a FIFO
 *   findYamlFiles(root, problems)  → string[]                  recursive, follows symbolic links with loop detection
 */
import { constants, type Dirent, type Stats } from 'node:fs';
import { type FileHandle, open, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Far above any real scenario or policy file; a bigger file is refused before it is parsed. */
export const MAX_FILE_BYTES = 2 * 1024 * 1024;

export interface FileProblem {
  file: string;
  /** 0 when the problem is about the file as a whole */
  line: number;
  col: number;
  message: string;
}

const problem = (file: string, message: string, line = 0, col = 0): FileProblem => ({ file, line, col, message });

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'symbolic link loop';
    case 'EISDIR':
      return 'is a directory';
    default:
      return e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
  }
}

export function isFileProblem(v: unknown): v is FileProblem {
  return typeof v === 'object' && v !== null && 'message' in v && 'file' in v;
}

/** The file's text, or why it cannot be used. O_NONBLOCK: a FIFO planted under a .yaml name must not hang us. */
export async function readSource(file: string): Promise<string | FileProblem> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return problem(file, `cannot read: ${reason(err)}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return problem(file, 'cannot read: not a regular file');
    if (info.size > MAX_FILE_BYTES) return problem(file, `file is ${info.size} bytes; the limit is ${MAX_FILE_BYTES} (2 MiB)`);
    // Read one byte more than the limit: the size may have changed since fstat.
    const buffer = Buffer.alloc(Math.min(info.size, MAX_FILE_BYTES) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_FILE_BYTES) return problem(file, `file is larger than the limit of ${MAX_FILE_BYTES} bytes (2 MiB)`);
      if (length === buffer.length) break;
    }
    return decodeUtf8(file, buffer.subarray(0, length));
  } catch (err) {
    return problem(file, `cannot read: ${reason(err)}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Strict UTF-8: a replacement character silently put in place of a bad byte could change a value's meaning. */
export function decodeUtf8(file: string, bytes: Buffer): string | FileProblem {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const prefix = new TextDecoder('utf-8').decode(bytes.subarray(0, at));
    const lines = prefix.split('\n');
    const line = lines.length;
    const col = [...lines[lines.length - 1]].length + 1;
    return problem(file, `not valid UTF-8 (byte 0x${bytes[at].toString(16).padStart(2, '0')}); save the file as UTF-8`, line, col);
  }
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629). */
function firstInvalidUtf8(b: Buffer): number {
  const MIN = [0, 0x80, 0x800, 0x10000];
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    let cp = n === 0 ? c : c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cont = b[i + k];
      if (cont === undefined || (cont & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cont & 0x3f);
    }
    if (cp < MIN[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return 0;
}

/**
 * Every file under `root` (a file or a directory) whose name `accept`s, sorted, recursively. Symbolic links are
 * followed; a link back into a directory being walked, a broken link and anything that is not a regular file or
 * directory is reported in `problems`, never skipped silently. A file reached twice is read once.
 */
export async function findYamlFiles(root: string, problems: FileProblem[], accept: (name: string) => boolean): Promise<string[]> {
  let info: Stats;
  try {
    info = await stat(root);
  } catch (err) {
    problems.push(problem(root, reason(err)));
    return [];
  }
  if (info.isFile()) return [root];
  if (!info.isDirectory()) {
    problems.push(problem(root, 'not a file or directory'));
    return [];
  }
  const out: string[] = [];
  await walk(root, new Set([await identity(root)]), { files: new Set(), dirs: new Set() }, problems, accept, out);
  return out;
}

async function identity(path: string): Promise<string> {
  const s = await stat(path);
  return `${s.dev}:${s.ino}`;
}

/** Files and directories already taken, by device and inode: reached again through a link, they are not read twice. */
interface Seen {
  files: Set<string>;
  dirs: Set<string>;
}

async function walk(
  dir: string,
  ancestors: Set<string>,
  seen: Seen,
  problems: FileProblem[],
  accept: (name: string) => boolean,
  out: string[],
): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    problems.push(problem(dir, `cannot read directory: ${reason(err)}`));
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(dir, e.name);
    if (!e.isDirectory() && !e.isFile() && !e.isSymbolicLink()) {
      if (accept(e.name)) problems.push(problem(full, 'not a regular file (skipped)'));
      continue;
    }
    let info: Stats;
    try {
      info = await stat(full);
    } catch (err) {
      const broken = e.isSymbolicLink() && (err as NodeJS.ErrnoException).code === 'ENOENT';
      if (e.isSymbolicLink() || accept(e.name)) problems.push(problem(full, `skipped: ${broken ? 'broken symbolic link' : reason(err)}`));
      continue;
    }
    const id = `${info.dev}:${info.ino}`;
    if (info.isDirectory()) {
      if (ancestors.has(id)) {
        problems.push(problem(full, `skipped: symbolic link loop (points back to ${await realpath(full).catch(() => 'an enclosing directory')})`));
        continue;
      }
      if (seen.dirs.has(id)) continue;
      seen.dirs.add(id);
      await walk(full, new Set([...ancestors, id]), seen, problems, accept, out);
    } else if (accept(e.name)) {
      if (!info.isFile()) problems.push(problem(full, 'not a regular file (skipped)'));
      else if (!seen.files.has(id)) {
        seen.files.add(id);
        out.push(full);
      }
    }
  }
}
