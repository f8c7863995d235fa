/**
 * The `call` role as a library: run a batch of ProbeRequests with bounded concurrency and hand back each
 * ProbeResult as soon as it finishes. A probe never throws: whatever happens becomes an Outcome.
 */
import { Attempt } from './attempt.js';
import { probeHttp } from './call-http.js';
import { probeIcmp } from './call-icmp.js';
import { probeRaw } from './call-raw.js';
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
      return request.http?.raw ? probeRaw(request, net) : probeHttp(request, net);
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
    return new Attempt(request).result(typeof e?.code === 'string' ? { kind: 'error', errno: e.code, message } : { kind: 'error', message });
  }
}

/**
 * A thread that runs many pods' probes at once (the lab runtime) shares its event loop among them: it decides when
 * one more probe may start, and whether a finished probe's timeout was the thread's own (a stall) rather than the
 * network's. Without a host (a standalone agent: one pod per process) probes start as the concurrency allows.
 */
export interface ProbeHost {
  /** Resolves when one more probe may start; the function it gives ends the probe's turn. */
  admit(): Promise<() => void>;
  /** The host's clock (ms), in which stallDuring takes a probe's start. */
  now(): number;
  /** Why `result` (started at `startedAt`, the host's now()) says nothing about the network, if it does not. */
  stallDuring(startedAt: number, result: ProbeResult): string | undefined;
}

let host: ProbeHost | undefined;

/** Sets (or with undefined removes) this thread's ProbeHost for every probe runProbes and runChains send. */
export function setProbeHost(h: ProbeHost | undefined): void {
  host = h;
}

/** Sends one request once the host admits it; a result the host finds stalled carries the reason (`harness`). */
async function hosted(request: ProbeRequest, send: (r: ProbeRequest) => Promise<ProbeResult>, started?: () => void): Promise<ProbeResult> {
  const h = host;
  if (!h) {
    started?.();
    return send(request);
  }
  const release = await h.admit();
  started?.();
  const t0 = h.now();
  try {
    const result = await send(request);
    const stall = h.stallDuring(t0, result);
    return stall ? { ...result, harness: { stall } } : result;
  } finally {
    release();
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
      void hosted(next.value, (r) => runProbe(r, options.net)).then((result) => {
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

/** Limits how many probes are in flight at once. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = Math.max(1, Math.floor(size));
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export interface ChainOptions extends RunOptions {
  /** How long after a chain's request started the next one starts even if the first has not ended (default 100). */
  staggerMs?: number;
  /** Sends one request (default: runProbe over `net`). */
  send?: (request: ProbeRequest) => Promise<ProbeResult>;
}

export const DEFAULT_STAGGER_MS = 100;

/**
 * Runs chains of requests: within a chain the next request starts when the previous one ended or `staggerMs` after
 * it started, whichever is first — so quick requests of a chain go strictly one after another (a probe's repeated
 * attempts meet what a second connection meets: a pooled connection, a resumed session), while one waiting for a
 * timeout does not hold the rest of its chain back for the whole timeout. At most `concurrency` requests are in
 * flight over all chains. Results come in completion order; join them by `nonce`.
 */
export async function runChains(chains: readonly (readonly ProbeRequest[])[], options: ChainOptions = {}): Promise<ProbeResult[]> {
  const slots = new Slots(options.concurrency ?? DEFAULT_CONCURRENCY);
  const stagger = Math.max(0, options.staggerMs ?? DEFAULT_STAGGER_MS);
  const send = options.send ?? ((r: ProbeRequest) => runProbe(r, options.net));
  const results: ProbeResult[] = [];
  const start = (request: ProbeRequest) => {
    let markStarted!: () => void;
    const started = new Promise<void>((r) => (markStarted = r));
    // Started once the host admitted it too: a chain's next request is staggered from when this one really began.
    const done = slots.run(() => hosted(request, send, markStarted)).then((r) => void results.push(r));
    return { started, done };
  };
  const chain = async (list: readonly ProbeRequest[]) => {
    const all: Promise<void>[] = [];
    let previous: { started: Promise<void>; done: Promise<void> } | undefined;
    for (const request of list) {
      if (previous) {
        let timer: NodeJS.Timeout | undefined;
        const staggered = previous.started.then(() => new Promise<void>((r) => (timer = setTimeout(r, stagger))));
        await Promise.race([previous.done, staggered]);
        clearTimeout(timer);
      }
      previous = start(request);
      all.push(previous.done);
    }
    await Promise.all(all);
  };
  await Promise.all(chains.map(chain));
  return results;
}
