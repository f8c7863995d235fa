/**
 * The control socket: a unix socket on which a running `serve` agent answers "what arrived for these nonces".
 * One JSON line in (`{"query":"observations","nonces":[…]}`), one JSON line out (`{"observations":{…}}` or
 * `{"error":"…"}`), then the connection closes.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import type { ObservationStore } from './store.js';
import type { Observation } from './types.js';

const MAX_QUERY = 4 * 1024 * 1024;

interface ControlQuery {
  query: 'observations';
  nonces: string[];
}

function parseQuery(line: string): ControlQuery | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'the query is not JSON';
  }
  const q = v as Partial<ControlQuery>;
  if (q?.query !== 'observations') return 'unknown query (expected "observations")';
  if (!Array.isArray(q.nonces) || !q.nonces.every((n) => typeof n === 'string')) return 'nonces must be an array of strings';
  return q as ControlQuery;
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

export async function startControl(path: string, store: ObservationStore): Promise<Server> {
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
      const answer = typeof q === 'string' ? { error: q } : { observations: store.query(q.nonces) };
      conn.end(`${JSON.stringify(answer)}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on control socket ${path}: ${err.message}`)));
    server.listen(path, () => resolve(server));
  });
}

/** Asks a running agent what arrived for `nonces`. Every nonce gets an entry; empty means nothing arrived. */
export function queryObservations(
  socketPath: string,
  nonces: readonly string[],
  timeoutMs = 5_000,
): Promise<Record<string, Observation[]>> {
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
      let answer: { observations?: Record<string, Observation[]>; error?: string };
      try {
        answer = JSON.parse(buf) as typeof answer;
      } catch {
        return fail(`unreadable answer: ${buf.slice(0, 200)}`);
      }
      if (answer.error !== undefined || !answer.observations) return fail(answer.error ?? 'empty answer');
      resolve(answer.observations);
    });
    conn.write(`${JSON.stringify({ query: 'observations', nonces })}\n`);
  });
}
