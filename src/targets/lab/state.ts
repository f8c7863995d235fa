/**
 * Ownership of labs on this machine. Every lab first writes a marker, /run/meshprobe/labs/<labid>/owner.json
 * (the owning process's pid and start time), and only then creates anything. Everything a lab creates carries
 * its id: network namespaces `mp-<labid>-…`, /etc/netns/mp-<labid>-…, processes inside those namespaces. So a
 * lab whose owner is gone (killed with -9) can be removed completely by a later run, and nothing without a
 * marker is ever touched.
 */
import { randomBytes } from 'node:crypto';
import koffi from 'koffi';
import { existsSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';
import { LAB_DIR, PUBLIC_DIR, readOwnFile, rootDir, writeNewFile } from './files.js';
import { NETNS_PREFIX } from './plan.js';
import { ipBatch, isToken } from './tokens.js';

export const STATE_ROOT = '/run/meshprobe';
export const LABS_DIR = join(STATE_ROOT, 'labs');
const NETNS_DIR = '/run/netns';
const ETC_NETNS = '/etc/netns';

interface OwnerMarker {
  pid: number;
  /** /proc/<pid>/stat start time, so a reused pid is not mistaken for the owner. */
  start: string;
}

export function labDir(labId: string): string {
  if (!/^[a-z0-9]{4,8}$/.test(labId)) throw new Error(`"${labId}" is not a lab id`);
  return join(LABS_DIR, labId);
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Creates a fresh lab id and its ownership marker for this process. The directory appears with its marker already
 * inside (written under a temporary name, then renamed into place), so a cleanup running at the same moment in
 * another process never sees a lab without an owner and takes it for a dead one. /run/meshprobe, its labs/ and
 * every lab directory are root's, with modes set whatever the umask (files.ts): no other user can add anything.
 */
export function claimLab(): string {
  rootDir(STATE_ROOT, PUBLIC_DIR);
  rootDir(LABS_DIR, PUBLIC_DIR);
  const marker: OwnerMarker = { pid: process.pid, start: startTime(process.pid) ?? '' };
  for (;;) {
    const id = randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(-6);
    const tmp = join(LABS_DIR, `.claim-${process.pid}-${id}`);
    rootDir(tmp, LAB_DIR);
    writeNewFile(join(tmp, 'owner.json'), JSON.stringify(marker));
    try {
      renameSync(tmp, labDir(id)); // fails when the id is taken (the target is a non-empty directory)
      return id;
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // taken by another lab: draw again
    }
  }
}

function ownerAlive(labId: string): boolean {
  try {
    const m = JSON.parse(readOwnFile(join(labDir(labId), 'owner.json'))) as OwnerMarker;
    return startTime(m.pid) === m.start;
  } catch {
    return false; // no readable marker inside a lab directory: its owner died while writing it
  }
}

const labPrefix = (labId: string) => `${NETNS_PREFIX}${labId}-`;

function listWithPrefix(dir: string, prefix: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Pids of processes whose network namespace is one of `netnsNames` (what `ip netns pids` does, for all at once). */
function pidsIn(netnsNames: string[]): number[] {
  const inodes = new Set<string>();
  for (const n of netnsNames) {
    try {
      inodes.add(`net:[${statSync(join(NETNS_DIR, n)).ino}]`);
    } catch {
      /* already gone */
    }
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (inodes.has(readlinkSync(`/proc/${entry}/ns/net`))) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let left = pids;
  while (left.length && Date.now() < deadline) {
    left = left.filter((p) => existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z '));
    if (left.length) await new Promise((r) => setTimeout(r, 10));
  }
}

let umount2: ((target: string, flags: number) => number) | undefined;
const MNT_DETACH = 2;
const EINVAL = 22;

/**
 * What `ip netns delete` does — detach the namespace's bind mount, remove the file — without starting a process
 * (the namespace itself goes when nothing uses it any more). Returns the names it could not delete, for `ip`.
 */
function deleteNetns(names: string[]): string[] {
  if (names.length === 0) return [];
  try {
    umount2 ??= koffi.load('libc.so.6').func('int umount2(const char *target, int flags)') as unknown as typeof umount2;
  } catch {
    return names;
  }
  return names.filter((n) => {
    const path = join(NETNS_DIR, n);
    if (umount2!(path, MNT_DETACH) !== 0 && koffi.errno() !== EINVAL) return true;
    try {
      unlinkSync(path);
      return false;
    } catch {
      return true;
    }
  });
}

/** Removes every trace of one lab: its processes, namespaces, /etc/netns entries and state directory. */
export async function removeLab(labId: string): Promise<void> {
  // Only names the lab could have made go into `ip -batch` input (tokens.ts); the lab creates no others.
  const netns = listWithPrefix(NETNS_DIR, labPrefix(labId)).filter((n) => isToken('netns', n));
  const pids = pidsIn(netns);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already exited */
    }
  }
  await waitGone(pids, 2_000);
  const left = deleteNetns(netns);
  if (left.length) await run('ip', ['-force', '-batch', '-'], ipBatch(left.map((n) => ['netns', 'delete', n])));
  for (const n of listWithPrefix(ETC_NETNS, labPrefix(labId))) rmSync(join(ETC_NETNS, n), { recursive: true, force: true });
  rmSync(labDir(labId), { recursive: true, force: true });
}

/** Removes labs whose owner process is gone. Returns their ids. Labs of live owners and anything else stay. */
export async function cleanStaleLabs(): Promise<string[]> {
  // A claim interrupted between its two steps (claimLab) leaves a `.claim-<pid>-<id>` directory and nothing else.
  for (const n of listWithPrefix(LABS_DIR, '.claim-')) {
    const pid = Number(/^\.claim-(\d+)-/.exec(n)?.[1]);
    if (pid && !existsSync(`/proc/${pid}`)) rmSync(join(LABS_DIR, n), { recursive: true, force: true });
  }
  const stale = listWithPrefix(LABS_DIR, '').filter((id) => /^[a-z0-9]{4,8}$/.test(id) && !ownerAlive(id));
  for (const id of stale) await removeLab(id);
  return stale;
}
