/**
 * The tcp probe: connect, send `MESHPROBE <nonce>\n`, expect the agent's observation as one JSON line.
 */
import { Attempt } from './attempt.js';
import { classifyError, classifyReply, type SocketError } from './classify.js';
import { nativeNet, SEALED_EVENT, type Net, type SealedFate } from './net.js';
import type { Outcome, ProbeRequest, ProbeResult } from './types.js';

export const TCP_GREETING = 'MESHPROBE';
/** A reply longer than this without a newline is not the agent's (its observation lines are far shorter). */
const MAX_LINE = 64 * 1024;

export function probeTcp(request: ProbeRequest, net: Net = nativeNet): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const attempt = new Attempt(request);
    let connected = false;
    let done = false;
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: request.host, port: request.port ?? 0 });
    socket.setNoDelay(true);

    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(connectTimer);
      clearTimeout(totalTimer);
      socket.destroy();
      resolve(attempt.result(outcome));
    };
    const connectTimer = setTimeout(() => finish({ kind: 'timeout', phase: 'connect' }), attempt.connectTimeoutMs);
    const totalTimer = setTimeout(() => finish({ kind: 'timeout', phase: connected ? 'response' : 'connect' }), attempt.totalTimeoutMs);

    // The Net knows this connection's fate already: end as the timeout would (connect, or response once connected).
    socket.once(SEALED_EVENT, (fate: SealedFate) => {
      if (done || !attempt.takesSealed(fate)) return;
      attempt.early = fate.by;
      finish({ kind: 'timeout', phase: connected ? 'response' : 'connect' });
    });
    socket.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      attempt.markConnect();
      const line = `${TCP_GREETING} ${request.nonce}\n`;
      attempt.sent += Buffer.byteLength(line);
      socket.write(line);
    });
    socket.on('data', (chunk: Buffer) => {
      attempt.markFirstByte();
      attempt.received += chunk.length;
      const newline = chunk.indexOf(10);
      if (newline >= 0) {
        chunks.push(chunk.subarray(0, newline));
        finish(classifyReply(Buffer.concat(chunks).toString('utf8'), request.nonce));
      } else {
        chunks.push(chunk);
        if (attempt.received > MAX_LINE) finish(classifyReply(Buffer.concat(chunks).toString('utf8'), request.nonce));
      }
    });
    socket.once('end', () => {
      finish(attempt.received > 0 ? classifyReply(Buffer.concat(chunks).toString('utf8'), request.nonce) : { kind: 'eof' });
    });
    socket.once('error', (err: SocketError) => {
      finish(classifyError(err, { connected, tlsExpected: false, tlsDone: false, received: attempt.received }));
    });
  });
}
