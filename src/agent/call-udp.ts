/**
 * The udp probe: one datagram `MESHPROBE <nonce>`, then wait for the reply. Judged by the reply, never by the
 * send: `ok` only when the reply is the agent's observation for this nonce (the lesson of kubernetes#98636).
 * The socket is connected so an ICMP port-unreachable comes back as `refused`.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { Attempt } from './attempt.js';
import { classifyError, classifyReply, type SocketError } from './classify.js';
import { TCP_GREETING } from './call-tcp.js';
import { nativeNet, SEALED_EVENT, type Net, type SealedFate } from './net.js';
import type { Outcome, ProbeRequest, ProbeResult } from './types.js';

export function probeUdp(request: ProbeRequest, net: Net = nativeNet): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const attempt = new Attempt(request);
    let done = false;
    const socket = createSocket({ type: isIPv6(request.host) ? 'udp6' : 'udp4', lookup: net.lookupOne });

    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(attempt.result(outcome));
    };
    // UDP has no handshake: the reply wait is the `connect` budget (see ProbeRequest.timeoutMs).
    const timer = setTimeout(() => finish({ kind: 'timeout', phase: 'response' }), attempt.connectTimeoutMs);

    socket.on('error', (err: SocketError) => {
      finish(classifyError(err, { connected: true, tlsExpected: false, tlsDone: false, received: attempt.received }));
    });
    // The Net knows the datagram was dropped: no reply can come, end as the reply wait would.
    socket.once(SEALED_EVENT, (fate: SealedFate) => {
      if (done || attempt.sent === 0 || !attempt.takesSealed(fate)) return;
      attempt.early = fate.by;
      finish({ kind: 'timeout', phase: 'response' });
    });
    socket.on('message', (msg: Buffer) => {
      attempt.markFirstByte();
      attempt.received += msg.length;
      finish(classifyReply(msg.toString('utf8'), request.nonce));
    });
    net.bindUdp(socket, 0).then(
      () =>
        socket.connect(request.port ?? 0, request.host, () => {
          if (done) return;
          const payload = Buffer.from(`${TCP_GREETING} ${request.nonce}`);
          attempt.sent += payload.length;
          socket.send(payload, (err) => {
            if (err) finish(classifyError(err, { connected: true, tlsExpected: false, tlsDone: false, received: 0 }));
          });
        }),
      (err: SocketError) => finish(classifyError(err, { connected: false, tlsExpected: false, tlsDone: false, received: 0 })),
    );
  });
}
