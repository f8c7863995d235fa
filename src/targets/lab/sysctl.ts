/**
 * Network sysctls of a lab namespace, written by the lab itself: /proc/sys/net shows the namespace of the thread
 * that opens it, so this thread enters the namespace (setns), writes the files and comes back — no process, no
 * shell. Only the calling thread changes namespace, and only for these synchronous writes.
 */
import koffi from 'koffi';
import { closeSync, constants as C, openSync, writeSync } from 'node:fs';
import { TargetError } from '../target.js';

const CLONE_NEWNET = 0x40000000;

/** The sysctls the lab sets, by their path under /proc/sys (fixed: no value from a scenario is ever written). */
export type LabSysctl = 'net/ipv4/ip_forward' | 'net/ipv4/ping_group_range' | 'net/ipv4/ip_unprivileged_port_start';

let setns: ((fd: number, type: number) => number) | undefined;
let home: number | undefined;

function enter(fd: number, what: string): void {
  setns ??= koffi.load('libc.so.6').func('int setns(int fd, int nstype)') as unknown as typeof setns;
  if (setns!(fd, CLONE_NEWNET) !== 0) throw new TargetError(`cannot enter the network namespace ${what} (errno ${koffi.errno()})`);
}

/** Writes `values` in the network namespace bound at `netnsPath` (/run/netns/<name>). */
export function writeSysctls(netnsPath: string, values: readonly (readonly [LabSysctl, string])[]): void {
  home ??= openSync('/proc/thread-self/ns/net', C.O_RDONLY);
  const ns = openSync(netnsPath, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    enter(ns, netnsPath);
    try {
      for (const [key, value] of values) {
        const fd = openSync(`/proc/sys/${key}`, C.O_WRONLY | C.O_NOFOLLOW);
        try {
          writeSync(fd, `${value}\n`);
        } finally {
          closeSync(fd);
        }
      }
    } finally {
      // The descriptor of the original namespace stays open: coming back cannot fail short of a kernel error.
      enter(home, 'of the lab process');
    }
  } finally {
    closeSync(ns);
  }
}
