/**
 * The `call` role as a library: run a batch of ProbeRequests with bounded concurrency and hand back each
 * ProbeResult as soon as it finishes. A probe never throws: whatever happens becomes an Outcome.
 */
import { Attempt } from './attempt.js';
import { probeHttp } from './call-http.js';
import { probeIcmp } from './call-icmp.js';
import { probeTcp } from './call-tcp.js';
import { probeUdp } from './call-udp.js';
import { nativeNet, type Net } from './net.js';
import type { ProbeRequest, ProbeResult } from './types.js';

export const DEFAULT_CONCURRENCY = 64;

export interface RunOptions {
  concurrency?: number;
  /** Where the probes' sockets are made (default: this process's own). */
  net?: Net;
}

function dispatch(request: ProbeRequest, net: Net): Promise<ProbeResult> {
  switch (request.protocol) {
    case 'tcp':
      return probeTcp(request, net);
    case 'udp':
      return probeUdp(request, net);
    case 'http':
    case 'https':
      return probeHttp(request, net);
    case 'icmp':
      return probeIcmp(request, net);
  }
}

/** One probe; an unexpected exception in the agent itself is still reported as an `error` outcome. */
export async function runProbe(request: ProbeRequest, net: Net = nativeNet): Promise<ProbeResult> {
  try {
    return await dispatch(request, net);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const message = `the agent failed while probing: ${String(e?.message ?? err)}`;
    return new Attempt(request).result(
      typeof e?.code === 'string' ? { kind: 'error', errno: e.code, message } : { kind: 'error', message },
    );
  }
}

/** Results arrive in completion order, not request order; join them by `nonce`. */
export async function* runProbes(requests: Iterable<ProbeRequest>, options: RunOptions = {}): AsyncGenerator<ProbeResult> {
  const limit = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
  const pending = requests[Symbol.iterator]();
  const ready: ProbeResult[] = [];
  let running = 0;
  let exhausted = false;
  let wake: (() => void) | undefined;

  const launch = () => {
    while (running < limit && !exhausted) {
      const next = pending.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      running++;
      void runProbe(next.value, options.net).then((result) => {
        running--;
        ready.push(result);
        launch();
        const w = wake;
        wake = undefined;
        w?.();
      });
    }
  };

  launch();
  while (running > 0 || ready.length > 0) {
    if (ready.length === 0) await new Promise<void>((r) => (wake = r));
    const batch = ready.splice(0, ready.length);
    for (const result of batch) yield result;
  }
}
