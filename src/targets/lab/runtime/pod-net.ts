/**
 * A pod's Net inside the lab runtime: every socket is created in the pod's network namespace and owned by the
 * pod's uid, which is all the kernel looks at — routing, the capture rules' `-m owner --uid-owner 1337`, the
 * NetworkPolicy filter. The runtime thread enters the namespace (setns) and takes the uid (and the same gid) as its
 * filesystem uid and gid (setfsuid, setfsgid: a socket's owner is its creator's) only for the one socket() call,
 * then returns; these calls change only the calling thread. Node then drives the socket as any other (net.Socket over the descriptor).
 * Programs the pod runs (ping) start inside the namespace as the pod's uid and gid.
 */
import koffi from 'koffi';
import { execFile as cpExecFile } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import { closeSync, openSync } from 'node:fs';
import { isIPv4, Socket, type Server } from 'node:net';
import { BACKLOG, type Net } from '../../../agent/net.js';
import { watchTcp, watchUdp } from './fate.js';
import { parseHosts, tableLookup } from './hosts.js';

const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const CLONE_NEWNET = 0x40000000;

interface Libc {
  setns: (fd: number, type: number) => number;
  setfsuid: (uid: number) => number;
  setfsgid: (gid: number) => number;
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Int32Array, len: number) => number;
  close: (fd: number) => number;
  strerror: (errnum: number) => string;
}

let libc: Libc | undefined;
let homeNetns: number | undefined;

function load(): Libc {
  if (!libc) {
    const lib = koffi.load('libc.so.6');
    libc = {
      setns: lib.func('int setns(int fd, int nstype)') as Libc['setns'],
      setfsuid: lib.func('int setfsuid(unsigned int uid)') as Libc['setfsuid'],
      setfsgid: lib.func('int setfsgid(unsigned int gid)') as Libc['setfsgid'],
      socket: lib.func('int socket(int domain, int type, int protocol)') as Libc['socket'],
      bind: lib.func('int bind(int fd, const uint8_t *addr, uint32_t len)') as Libc['bind'],
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, const int32_t *value, uint32_t len)') as Libc['setsockopt'],
      close: lib.func('int close(int fd)') as Libc['close'],
      strerror: lib.func('const char *strerror(int errnum)') as Libc['strerror'],
    };
    // The namespace this thread came from, to return to after every socket().
    homeNetns = openSync('/proc/thread-self/ns/net', 'r');
  }
  return libc;
}

function errnoError(what: string, errno: number, c: Libc): NodeJS.ErrnoException {
  const codes: Record<number, string> = { 13: 'EACCES', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 24: 'EMFILE', 1: 'EPERM' };
  return Object.assign(new Error(`${what}: ${c.strerror(errno)}`), { errno: -errno, code: codes[errno] ?? `E${errno}`, syscall: what });
}

function sockaddrIn(address: string, port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  address.split('.').forEach((x, i) => (b[4 + i] = Number(x)));
  return b;
}

export interface PodNet extends Net {
  /** Destroys every connection this Net made that is still open. */
  destroyAll(): void;
  /** destroyAll, then lets go of the namespace. */
  close(): void;
}

/** The Net of the pod whose namespace is bound at `netnsPath`, as `uid`, resolving names from `hosts` (hosts(5)). */
export function podNet(netnsPath: string, uid: number, hosts: string): PodNet {
  const c = load();
  const home = homeNetns as number;
  const pod = openSync(netnsPath, 'r');
  const open = new Set<Socket>();
  const { lookup, lookupOne } = tableLookup(parseHosts(hosts));

  /** Runs `fn` in the pod's namespace as the pod's fsuid; always comes back. */
  const inPod = <T>(fn: () => T): T => {
    if (c.setns(pod, CLONE_NEWNET) !== 0) throw errnoError(`setns(${netnsPath})`, koffi.errno(), c);
    c.setfsgid(uid); // the pod's gid is its uid, as the lab's pod processes get (setpriv --regid)
    c.setfsuid(uid);
    try {
      return fn();
    } finally {
      c.setfsuid(0);
      c.setfsgid(0);
      // biome-ignore lint/correctness/noUnsafeFinally: a thread left in the pod's namespace must never create another socket; this replaces any error from the try block on purpose
      if (c.setns(home, CLONE_NEWNET) !== 0) throw errnoError('setns(back to the lab runtime)', koffi.errno(), c); // cannot happen: the fd stays open
    }
  };
  const newSocket = (type: number): number => {
    const fd = inPod(() => c.socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd < 0) throw errnoError('socket', koffi.errno(), c);
    return fd;
  };
  const bound = (type: number, port: number): number => {
    const fd = newSocket(type);
    if (type === SOCK_STREAM) c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, Int32Array.of(1), 4);
    if (c.bind(fd, sockaddrIn('0.0.0.0', port), 16) !== 0) {
      const err = errnoError('bind', koffi.errno(), c);
      c.close(fd);
      throw err;
    }
    return fd;
  };

  /** A client's UDP socket waits for its fate from its first datagram on (fate.ts): its sends are noted. */
  const watchSends = (socket: UdpSocket): void => {
    const local = () => {
      try {
        return socket.address().address;
      } catch {
        return undefined;
      }
    };
    const w = watchUdp(socket, netnsPath, local);
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    socket.send = ((...args: unknown[]) => {
      const cb = typeof args.at(-1) === 'function' ? (args.pop() as (err: Error | null, n?: number) => void) : undefined;
      send(...args, (err: Error | null, n?: number) => {
        if (!err) w.markSent();
        cb?.(err, n);
      });
    }) as UdpSocket['send'];
  };

  const net: PodNet = {
    connect: ({ host, port, localAddress, onBehalfOf }) => {
      const socket = new Socket({ fd: newSocket(SOCK_STREAM), manualStart: true } as ConstructorParameters<typeof Socket>[0]);
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      // Loopback never crosses the node: no NetworkPolicy rule can decide it (fate.ts).
      if (!host.startsWith('127.') && host !== 'localhost') watchTcp(socket, netnsPath, host, port, isIPv4(host), onBehalfOf);
      socket.connect({ host, port, family: 4, lookup: lookup as Net['lookup'], ...(localAddress ? { localAddress } : {}) });
      return socket;
    },
    listen: (server: Server, port: number) =>
      new Promise((resolve, reject) => {
        let fd: number;
        try {
          fd = bound(SOCK_STREAM, port);
        } catch (err) {
          return reject(err);
        }
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen({ fd, backlog: BACKLOG }, () => {
          server.off('error', onError);
          resolve();
        });
      }),
    bindUdp: (socket: UdpSocket, port: number) =>
      new Promise((resolve, reject) => {
        let fd: number;
        try {
          fd = port === 0 ? newSocket(SOCK_DGRAM) : bound(SOCK_DGRAM, port);
        } catch (err) {
          return reject(err);
        }
        if (port === 0) watchSends(socket);
        socket.bind({ fd }, () => resolve());
      }),
    execFile: (file, args, options, callback) =>
      inPod(() =>
        cpExecFile(file, args, { ...options, uid, gid: uid, encoding: 'utf8' }, (err, stdout, stderr) =>
          callback(err, String(stdout), String(stderr)),
        ),
      ),
    lookup: lookup as Net['lookup'],
    lookupOne: lookupOne as Net['lookupOne'],
    destroyAll: () => {
      for (const s of open) s.destroy();
      open.clear();
    },
    close: () => {
      net.destroyAll();
      closeSync(pod);
    },
  };
  return net;
}
