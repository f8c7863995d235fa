/**
 * `call --chains --fates`: a probe client started in a pod by a target that learns some probes' fates before their
 * timeouts (the lab, from its NetworkPolicy counters; see src/targets/lab/runtime/fate.ts). The client reports when
 * each attempt's first packet left and on which flow (`{"sent": nonce, "flow": "tcp 10.1.0.2>10.1.0.3:80", "at":
 * epoch ms}` on stdout, among the results); the target answers on stdin (`{"nonce": …, "by": …}`), and the attempt
 * ends as its timeout would, with `by` as its evidence (SEALED_EVENT). A fate for an attempt whose connection is
 * no longer waiting for its handshake, or that is unknown, is ignored.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { isIP, Socket } from 'node:net';
import { cachedLookup } from './lookup.js';
import { nativeNet, SEALED_EVENT, type Net, type SealedFate } from './net.js';

export interface SentLine {
  sent: string;
  flow: string;
  at: number;
}

/** What can be told about one attempt's socket. */
interface Tracked {
  seal(fate: SealedFate): void;
}

export class Fates {
  private readonly sockets = new Map<string, Tracked>();
  constructor(private readonly report: (line: SentLine) => void) {}

  /** The Net one request's probe uses: node's own sockets, each reported and kept by the request's nonce. */
  netFor(nonce: string): Net {
    return {
      ...nativeNet,
      connect: ({ host, port, localAddress }) => {
        const s = new Socket();
        this.sockets.set(nonce, { seal: (f) => s.connecting && !s.destroyed && s.emit(SEALED_EVENT, f) });
        // node connects right after the lookup (or on the next tick for an address); this tick runs after it.
        const sent = (dst: string) =>
          process.nextTick(() => {
            if (s.connecting && s.localAddress) this.report({ sent: nonce, flow: `tcp ${s.localAddress}>${dst}:${port}`, at: Date.now() });
          });
        if (isIP(host)) sent(host);
        else s.once('lookup', (err: Error | null, address: string) => err || sent(address));
        s.once('close', () => this.sockets.delete(nonce));
        return s.connect({ host, port, lookup: cachedLookup, ...(localAddress ? { localAddress } : {}) });
      },
      bindUdp: (socket: UdpSocket, port: number) => {
        this.sockets.set(nonce, { seal: (f) => socket.emit(SEALED_EVENT, f) });
        socket.once('close', () => this.sockets.delete(nonce));
        const send = socket.send.bind(socket) as (...args: unknown[]) => void;
        socket.send = ((...args: unknown[]) => {
          const cb = typeof args.at(-1) === 'function' ? (args.pop() as (err: Error | null, n?: number) => void) : undefined;
          send(...args, (err: Error | null, n?: number) => {
            if (!err) {
              try {
                const r = socket.remoteAddress();
                this.report({ sent: nonce, flow: `udp ${socket.address().address}>${r.address}:${r.port}`, at: Date.now() });
              } catch {
                /* not connected: no flow to report */
              }
            }
            cb?.(err, n);
          });
        }) as UdpSocket['send'];
        return nativeNet.bindUdp(socket, port);
      },
    };
  }

  /** One line from the target: `{"nonce": …, "by": …}`; anything else is ignored. */
  onLine(line: string): void {
    let m: { nonce?: unknown; by?: unknown };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      return;
    }
    if (typeof m?.nonce !== 'string' || typeof m.by !== 'string') return;
    this.sockets.get(m.nonce)?.seal({ by: m.by.slice(0, 2_000) });
  }
}
