/**
 * Becoming a pod's process, for one thread: its network namespace, its uid and gid with no supplementary groups,
 * and its capabilities — what `ip netns exec <pod> setpriv --reuid … --bounding-set … --ambient-caps …` does for a
 * process. Linux keeps the network namespace, the credentials and the capability sets per thread, and the raw
 * system calls used here (unlike glibc's setresuid, which changes every thread) change only the calling thread.
 * So the lab runs each pod's agent and sidecar as a thread of its own process: the kernel sees each one's sockets
 * in the pod's namespace, owned by the pod's uid (what the capture rules' `-m owner` matches), and child processes
 * (ping) inherit all of it.
 */
import koffi from 'koffi';
import { closeSync, openSync } from 'node:fs';
import { arch } from 'node:process';

export interface ThreadIdentity {
  /** /run/netns/<name>. */
  netnsPath: string;
  uid: number;
  /** Capabilities granted to the container (names as in the scenario: NET_ADMIN …). */
  capabilities: string[];
  /** The container's bounding set: the runtime's default set plus the granted ones, or nothing (`drop: [ALL]`). */
  bounding: string[];
}

/** Capability numbers (linux/capability.h). */
export const CAPABILITY_NUMBERS: Record<string, number> = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8,
  LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13, IPC_LOCK: 14, IPC_OWNER: 15,
  SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19, SYS_PACCT: 20, SYS_ADMIN: 21, SYS_BOOT: 22,
  SYS_NICE: 23, SYS_RESOURCE: 24, SYS_TIME: 25, SYS_TTY_CONFIG: 26, MKNOD: 27, LEASE: 28, AUDIT_WRITE: 29,
  AUDIT_CONTROL: 30, SETFCAP: 31, MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34, WAKE_ALARM: 35, BLOCK_SUSPEND: 36,
  AUDIT_READ: 37, PERFMON: 38, BPF: 39, CHECKPOINT_RESTORE: 40,
};

/** System call numbers that differ between architectures. */
const SYSCALLS: Record<string, { setgroups: number; setresuid: number; setresgid: number; gettid: number }> = {
  x64: { setgroups: 116, setresuid: 117, setresgid: 119, gettid: 186 },
  arm64: { setgroups: 159, setresuid: 147, setresgid: 149, gettid: 178 },
};

const CLONE_NEWNET = 0x40000000;
const PR_SET_KEEPCAPS = 8;
const PR_CAPBSET_DROP = 24;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** The 64-bit capability mask of `names`, as the two 32-bit words capset takes. */
export function capabilityMask(names: readonly string[]): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const n of names) {
    const bit = CAPABILITY_NUMBERS[n];
    if (bit === undefined) throw new Error(`unknown capability ${n}`);
    if (bit < 32) lo |= 2 ** bit;
    else hi |= 2 ** (bit - 32);
  }
  return [lo >>> 0, hi >>> 0];
}

/**
 * The sets a container's first process ends up with: root gets its bounding set, any other uid only what is
 * ambient (the granted capabilities; a runtime raises none by default).
 */
export function effectiveCapabilities(id: Pick<ThreadIdentity, 'uid' | 'capabilities' | 'bounding'>): string[] {
  return id.uid === 0 ? id.bounding : id.capabilities.filter((c) => id.bounding.includes(c));
}

interface Libc {
  setns: (fd: number, type: number) => number;
  prctl: (option: number, a: number, b: number, c: number, d: number) => number;
  /** header: [version, pid]; data: [effective, permitted, inheritable] for capabilities 0-31, then for 32-63. */
  capset: (header: Uint32Array, data: Uint32Array) => number;
  syscall: (...args: unknown[]) => number;
}

let libc: Libc | undefined;
function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    setns: lib.func('int setns(int fd, int nstype)') as Libc['setns'],
    prctl: lib.func('int prctl(int option, unsigned long a, unsigned long b, unsigned long c, unsigned long d)') as Libc['prctl'],
    capset: lib.func('int capset(uint32_t *header, uint32_t *data)') as Libc['capset'],
    syscall: lib.func('long syscall(long number, ...)') as unknown as Libc['syscall'],
  };
  return libc;
}

function check(what: string, rc: number): void {
  if (rc !== 0) throw new Error(`${what} failed: errno ${koffi.errno()}`);
}

/** Moves the calling thread into the pod: network namespace first (needs CAP_SYS_ADMIN), then the identity. */
export function becomePod(id: ThreadIdentity): { tid: number } {
  const calls = SYSCALLS[arch];
  if (!calls) throw new Error(`pods as threads are implemented for x64 and arm64, not ${arch}`);
  const c = load();
  const fd = openSync(id.netnsPath, 'r');
  try {
    check(`setns(${id.netnsPath})`, c.setns(fd, CLONE_NEWNET));
  } finally {
    closeSync(fd);
  }
  // Bounding set first: dropping from it needs CAP_SETPCAP, which the thread has only while it is still root.
  const bounding = new Set(id.bounding);
  for (const [name, bit] of Object.entries(CAPABILITY_NUMBERS)) {
    if (bounding.has(name)) continue;
    const rc = c.prctl(PR_CAPBSET_DROP, bit, 0, 0, 0);
    if (rc !== 0 && koffi.errno() !== 22) check(`dropping CAP_${name} from the bounding set`, rc); // EINVAL: unknown to this kernel
  }
  check('prctl(PR_SET_KEEPCAPS)', c.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
  check('setgroups', c.syscall(calls.setgroups, 'long', 0, 'long', 0));
  check(`setresgid(${id.uid})`, c.syscall(calls.setresgid, 'long', id.uid, 'long', id.uid, 'long', id.uid));
  check(`setresuid(${id.uid})`, c.syscall(calls.setresuid, 'long', id.uid, 'long', id.uid, 'long', id.uid));
  const wanted = effectiveCapabilities(id);
  const [lo, hi] = capabilityMask(wanted);
  const inheritable = capabilityMask(id.uid === 0 ? [] : wanted);
  check('capset', c.capset(Uint32Array.of(LINUX_CAPABILITY_VERSION_3, 0), Uint32Array.of(lo, lo, inheritable[0], hi, hi, inheritable[1])));
  check('prctl(PR_SET_KEEPCAPS, 0)', c.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
  // Granted capabilities stay effective across exec for a non-root uid (as setpriv --ambient-caps does).
  if (id.uid !== 0) for (const name of wanted) check(`raising CAP_${name} as ambient`, c.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAPABILITY_NUMBERS[name], 0, 0));
  return { tid: Number(c.syscall(calls.gettid)) };
}
