/**
 * Where the agent's sockets come from. A standalone agent (the probe image, `call`) uses node's own: its process
 * is already in the pod. The lab runs many pods' agents and sidecars in one process and hands each its pod's
 * Net, whose sockets are created in the pod's network namespace as the pod's uid (src/targets/lab/runtime).
 * Everything the agent and the sidecar open goes through here, so the same code serves both.
 */
import { execFile as cpExecFile, type ChildProcess, type ExecFileOptions } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, type Server, type Socket } from 'node:net';
import { cachedLookup, cachedLookupOne } from './lookup.js';

export type ExecFileCallback = (error: (Error & { code?: string | number | null }) | null, stdout: string, stderr: string) => void;

export interface Net {
  /**
   * A TCP connection to host:port (a name resolved with `lookup`), optionally from `localAddress`. `onBehalfOf`: a
   * proxy's upstream connection for the accepted connection `downstream`, which the proxy gives up after
   * `givesUpAfterMs` (a Net that learns the upstream's fate passes it on to the client of `downstream`).
   */
  connect(options: { host: string; port: number; localAddress?: string; onBehalfOf?: OnBehalfOf }): Socket;
  /** Starts `server` listening on 0.0.0.0:`port`; rejects with the reason (EADDRINUSE …). */
  listen(server: Server, port: number): Promise<void>;
  /** Binds a UDP socket to 0.0.0.0:`port` (0: any), before it is connected or used. */
  bindUdp(socket: UdpSocket, port: number): Promise<void>;
  /** Runs a program where the sockets are (ping). */
  execFile(file: string, args: string[], options: ExecFileOptions, callback: ExecFileCallback): ChildProcess;
  /** Name resolution (the `lookup` option of net, http and tls). */
  lookup: typeof cachedLookup;
  /** The single-address form, for dgram sockets. */
  lookupOne: typeof cachedLookupOne;
}

export interface OnBehalfOf {
  downstream: Socket;
  givesUpAfterMs: number;
}

export const BACKLOG = 4096;

/**
 * Emitted on a socket by a Net that knows the socket's fate before the timeout says it (the lab: a NetworkPolicy
 * rule's counter shows this flow's new packets are dropped). The probe then ends as its timeout would have ended it
 * — same outcome, same phase — at once, and its result says what decided it (`ProbeResult.early`). `givesUpAt`
 * (epoch ms): when something in the path would end the wait otherwise (a sidecar's own upstream connect timeout);
 * a probe whose own timeout comes later keeps waiting, as the slow path would show that instead.
 */
export const SEALED_EVENT = 'meshprobe:sealed';
export interface SealedFate {
  by: string;
  givesUpAt?: number;
}

function listenOn(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ port, host: '0.0.0.0', backlog: BACKLOG }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** node's own sockets, in the namespace and as the uid of this process. */
export const nativeNet: Net = {
  connect: ({ host, port, localAddress }) => netConnect({ host, port, lookup: cachedLookup, ...(localAddress ? { localAddress } : {}) }),
  listen: listenOn,
  bindUdp: (socket, port) =>
    new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind(port, () => {
        socket.off('error', onError);
        resolve();
      });
    }),
  execFile: (file, args, options, callback) =>
    cpExecFile(file, args, { ...options, encoding: 'utf8' }, (err, stdout, stderr) => callback(err, String(stdout), String(stderr))),
  lookup: cachedLookup,
  lookupOne: cachedLookupOne,
};
