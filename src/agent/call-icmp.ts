/**
 * The icmp probe: one echo request through iputils `ping` (raw sockets need privileges the agent should not
 * ask for; ping carries its own capability or uses the ping socket group).
 */
import { isIP } from 'node:net';
import { Attempt } from './attempt.js';
import { nativeNet, type Net } from './net.js';
import type { Outcome, ProbeRequest, ProbeResult } from './types.js';

/** Reads ping's summary. Exit 0: a reply; exit 1: none; anything else: ping could not even try. */
export function classifyPing(exitCode: number | null, stdout: string, stderr: string): Outcome {
  if (exitCode === 0) {
    const rtt = /time[=<]([\d.]+) ?ms/.exec(stdout);
    return rtt ? { kind: 'icmp', reply: true, rttMs: Number(rtt[1]) } : { kind: 'icmp', reply: true };
  }
  if (exitCode === 1) return { kind: 'icmp', reply: false };
  const message = (stderr.trim() || stdout.trim() || `ping exited with ${String(exitCode)}`).split('\n')[0];
  return { kind: 'error', message: message.startsWith('ping:') ? message : `ping: ${message}` };
}

/** The address to ping: the name is resolved here, by the agent's own lookup, as for every other protocol. */
function resolveHost(host: string, net: Net): Promise<string> {
  if (isIP(host)) return Promise.resolve(host);
  return new Promise((resolve, reject) =>
    net.lookup(host, { family: 4 }, (err, address) => (err ? reject(err) : resolve(typeof address === 'string' ? address : ''))),
  );
}

export async function probeIcmp(request: ProbeRequest, net: Net = nativeNet): Promise<ProbeResult> {
  const attempt = new Attempt(request);
  let address: string;
  try {
    address = await resolveHost(request.host, net);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return attempt.result({ kind: 'error', errno: e.code ?? 'ENOTFOUND', message: `ping: ${request.host}: cannot resolve (${e.message})` });
  }
  return new Promise((resolve) => {
    const waitS = Math.max(attempt.connectTimeoutMs / 1000, 0.001).toFixed(3);
    const args = ['-c', '1', '-W', waitS, '-n', address];
    net.execFile('ping', args, { timeout: attempt.totalTimeoutMs + 1000 }, (err, stdout, stderr) => {
      const errno = err as (Error & { code?: string | number }) | null;
      if (errno && typeof errno.code === 'string') {
        const hint = errno.code === 'ENOENT' ? ' (install iputils-ping)' : '';
        resolve(attempt.result({ kind: 'error', errno: errno.code, message: `cannot run ping${hint}: ${errno.message}` }));
        return;
      }
      const exitCode = errno ? (typeof errno.code === 'number' ? errno.code : null) : 0;
      const outcome = classifyPing(exitCode, stdout, stderr);
      // ping's default echo request: 56 bytes of payload plus the 8-byte ICMP header.
      if (outcome.kind === 'icmp') attempt.sent = 64;
      if (outcome.kind === 'icmp' && outcome.reply) attempt.received = 64;
      resolve(attempt.result(outcome));
    });
  });
}
