/**
 * The control socket: a unix socket on which a running `serve` agent answers two queries, one JSON line in and
 * one JSON line out, then the connection closes:
 * - `{"query":"observations","nonces":[…]}` → `{"observations":{…}}`: what arrived for these nonces.
 * - `{"query":"call","requests":[ProbeRequest…],"concurrency":N}` → `{"results":[ProbeResult…]}`: the agent
 *   sends the probes itself, from its own network namespace and as its own uid and capabilities — exactly what
 *   `call` does, without starting a process per batch.
 * - `{"query":"call","chains":[[ProbeRequest…]…],"concurrency":N,"staggerMs":M}` → `{"results":[…]}`: the same,
 *   each chain's requests one after another (the next starts when the previous ended or M ms after it started;
 *   see runChains) — a probe's repeated attempts in one query.
 * Errors answer `{"error":"…"}`.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { runChains, runProbes } from './call.js';
import { checkChains, checkRequests } from './config.js';
import type { Net } from './net.js';
import type { ObservationStore } from './store.js';
import type { Observation, ProbeRequest, ProbeResult } from './types.js';

const MAX_QUERY = 4 * 1024 * 1024;

type ControlQuery =
  | { query: 'observations'; nonces: string[] }
  | { query: 'call'; requests: ProbeRequest[]; concurrency?: number }
  | { query: 'chains'; chains: ProbeRequest[][]; concurrency?: number; staggerMs?: number };

function parseQuery(line: string): ControlQuery | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'the query is not JSON';
  }
  const q = v as { query?: unknown; nonces?: unknown; requests?: unknown; chains?: unknown; concurrency?: unknown; staggerMs?: unknown };
  if (q?.query === 'observations') {
    if (!Array.isArray(q.nonces) || !q.nonces.every((n) => typeof n === 'string')) return 'nonces must be an array of strings';
    return { query: 'observations', nonces: q.nonces as string[] };
  }
  if (q?.query === 'call') {
    const concurrency = typeof q.concurrency === 'number' && q.concurrency >= 1 ? q.concurrency : undefined;
    if (q.chains !== undefined) {
      if (q.requests !== undefined) return 'a call has either requests or chains, not both';
      const chains = checkChains(q.chains);
      if (typeof chains === 'string') return chains;
      if (q.staggerMs !== undefined && (typeof q.staggerMs !== 'number' || !(q.staggerMs >= 0))) return 'staggerMs must be a number ≥ 0';
      return { query: 'chains', chains, concurrency, staggerMs: q.staggerMs as number | undefined };
    }
    const checked = checkRequests(q.requests);
    if (typeof checked === 'string') return checked;
    return { query: 'call', requests: checked, concurrency };
  }
  return 'unknown query (expected "observations" or "call")';
}

async function answer(q: ControlQuery, store: ObservationStore, net: Net | undefined): Promise<object> {
  if (q.query === 'observations') return { observations: store.query(q.nonces) };
  if (q.query === 'chains')
    return { results: await runChains(q.chains, { concurrency: q.concurrency, staggerMs: q.staggerMs, ...(net ? { net } : {}) }) };
  const results: ProbeResult[] = [];
  for await (const r of runProbes(q.requests, { concurrency: q.concurrency, ...(net ? { net } : {}) })) results.push(r);
  return { results };
}

/** True when a live agent answers on `path` (a stale socket file refuses the connection). */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Removes a socket left behind by a previous agent. Refuses to delete anything that is not a socket, or the
 * socket of an agent that is still running.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new Error(`control path ${path} exists and is not a socket; choose another path`);
  if (await isLive(path)) throw new Error(`control socket ${path} is in use by a running agent; stop it or choose another path`);
  unlinkSync(path);
}

export async function startControl(path: string, store: ObservationStore, net?: Net): Promise<Server> {
  await clearStaleSocket(path);
  const server = createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', () => conn.destroy());
    conn.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_QUERY) return void conn.end(`${JSON.stringify({ error: 'query too large' })}\n`);
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const q = parseQuery(buf.slice(0, nl));
      buf = '';
      conn.removeAllListeners('data');
      if (typeof q === 'string') return void conn.end(`${JSON.stringify({ error: q })}\n`);
      void answer(q, store, net).then(
        (a) => conn.end(`${JSON.stringify(a)}\n`),
        (err: unknown) => conn.end(`${JSON.stringify({ error: String(err) })}\n`),
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on control socket ${path}: ${err.message}`)));
    server.listen(path, () => resolve(server));
  });
}

/** Asks a running agent what arrived for `nonces`. Every nonce gets an entry; empty means nothing arrived. */
export async function queryObservations(socketPath: string, nonces: readonly string[], timeoutMs = 5_000): Promise<Record<string, Observation[]>> {
  const a = await ask<{ observations?: Record<string, Observation[]> }>(socketPath, { query: 'observations', nonces }, timeoutMs);
  if (!a.observations) throw new Error(`query to agent control socket ${socketPath} failed: empty answer`);
  return a.observations;
}

/**
 * Has a running agent send `requests` from where it runs (its pod, its uid). `timeoutMs` bounds the whole
 * batch; choose it from the requests' own timeouts. Results come back in completion order; join by nonce.
 */
export async function callViaControl(
  socketPath: string,
  requests: readonly ProbeRequest[],
  options: { concurrency?: number; timeoutMs: number },
): Promise<ProbeResult[]> {
  const q = { query: 'call', requests, concurrency: options.concurrency };
  const a = await ask<{ results?: ProbeResult[] }>(socketPath, q, options.timeoutMs);
  if (!a.results) throw new Error(`call through agent control socket ${socketPath} failed: empty answer`);
  return a.results;
}

/**
 * Has a running agent send chains of requests (a probe's repeated attempts, each chain in order; see runChains) in
 * one query. Results come back in completion order; join by nonce.
 */
export async function callChainsViaControl(
  socketPath: string,
  chains: readonly (readonly ProbeRequest[])[],
  options: { concurrency?: number; staggerMs?: number; timeoutMs: number },
): Promise<ProbeResult[]> {
  const q = { query: 'call', chains, concurrency: options.concurrency, staggerMs: options.staggerMs };
  const a = await ask<{ results?: ProbeResult[] }>(socketPath, q, options.timeoutMs);
  if (!a.results) throw new Error(`call through agent control socket ${socketPath} failed: empty answer`);
  return a.results;
}

function ask<T>(socketPath: string, query: object, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const conn = connect(socketPath);
    let buf = '';
    const fail = (message: string) => {
      conn.destroy();
      reject(new Error(`query to agent control socket ${socketPath} failed: ${message}`));
    };
    conn.setEncoding('utf8');
    conn.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
    conn.on('error', (err) => fail(`${err.message} (is the agent running with this control path?)`));
    conn.on('data', (d: string) => (buf += d));
    conn.on('end', () => {
      let a: T & { error?: string };
      try {
        a = JSON.parse(buf) as typeof a;
      } catch {
        return fail(`unreadable answer: ${buf.slice(0, 200)}`);
      }
      if (a.error !== undefined) return fail(a.error);
      resolve(a);
    });
    conn.write(`${JSON.stringify(query)}\n`);
  });
}
