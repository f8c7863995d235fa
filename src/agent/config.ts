/**
 * The agent's inputs checked by hand (no schema library: the agent must start fast): the `serve` config file and
 * the `call` batch of ProbeRequests. Each returns either the typed value or messages naming the bad field.
 */
import { LISTEN_PROTOCOLS, PROBE_PROTOCOLS, type ListenProtocol, type ProbeProtocol, type ProbeRequest } from './types.js';

export interface ListenPort {
  port: number;
  protocol: ListenProtocol;
  certFile?: string;
  keyFile?: string;
}

export interface ServeConfig {
  ports: ListenPort[];
  /** Unix socket path answering observation queries. */
  control: string;
  /** True only when a sidecar terminates mTLS in front of the agent; then XFCC is evidence. */
  behindSidecar?: boolean;
  name?: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const LISTEN: readonly string[] = LISTEN_PROTOCOLS;
const PROBE: readonly string[] = PROBE_PROTOCOLS;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPort = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
const isOptString = (v: unknown) => v === undefined || typeof v === 'string';

function checkListenPort(p: unknown, at: string, errors: string[]): void {
  if (!isObject(p)) return void errors.push(`${at}: must be an object`);
  if (!isPort(p.port)) errors.push(`${at}.port: must be an integer 1-65535, got ${JSON.stringify(p.port)}`);
  if (typeof p.protocol !== 'string' || !LISTEN.includes(p.protocol)) {
    errors.push(`${at}.protocol: must be one of ${LISTEN.join(', ')}, got ${JSON.stringify(p.protocol)}`);
  }
  if (!isOptString(p.certFile) || !isOptString(p.keyFile)) errors.push(`${at}: certFile and keyFile must be strings`);
  if (p.protocol === 'https' && (typeof p.certFile !== 'string' || typeof p.keyFile !== 'string')) {
    errors.push(`${at}: an https port needs certFile and keyFile`);
  }
}

export function parseServeConfig(v: unknown): Parsed<ServeConfig> {
  const errors: string[] = [];
  if (!isObject(v)) return { ok: false, errors: ['the config must be a JSON object'] };
  if (!Array.isArray(v.ports)) errors.push('ports: must be an array');
  else v.ports.forEach((p, i) => checkListenPort(p, `ports[${i}]`, errors));
  if (typeof v.control !== 'string' || v.control === '') errors.push('control: must be a unix socket path');
  if (v.behindSidecar !== undefined && typeof v.behindSidecar !== 'boolean') errors.push('behindSidecar: must be a boolean');
  if (!isOptString(v.name)) errors.push('name: must be a string');
  if (Array.isArray(v.ports)) {
    const seen = new Set<string>();
    for (const p of v.ports as ListenPort[]) {
      const family = p?.protocol === 'udp' ? 'udp' : 'tcp';
      const key = `${family}/${p?.port}`;
      if (seen.has(key)) errors.push(`ports: ${key} is listed twice`);
      seen.add(key);
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: v as unknown as ServeConfig };
}

const VISIBLE = /^[\x21-\x7e]+$/;
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]([\x20-\x39\x3b-\x7e]*[\x21-\x39\x3b-\x7e])?$/;
const HEADER_VALUE = /^[\x20-\x7e\t]*$/;

/** A raw request reaches the wire as written: nothing in it may end a line or the header block early. */
function checkRaw(http: Record<string, unknown>, at: string, errors: string[]): void {
  const raw = http.raw;
  if (!isObject(raw)) return void errors.push(`${at}.raw: must be an object`);
  if (http.method !== undefined || http.path !== undefined || http.headers !== undefined) errors.push(`${at}: raw excludes method, path and headers`);
  const visible = (v: unknown) => typeof v === 'string' && VISIBLE.test(v);
  if (!visible(raw.method)) errors.push(`${at}.raw.method: must be visible ASCII without spaces`);
  if (!visible(raw.requestTarget)) errors.push(`${at}.raw.requestTarget: must be visible ASCII without spaces`);
  if (raw.host !== undefined && !visible(raw.host)) errors.push(`${at}.raw.host: must be visible ASCII without spaces`);
  if (raw.version !== undefined && raw.version !== '1.1' && raw.version !== '1.0') errors.push(`${at}.raw.version: must be "1.1" or "1.0"`);
  const headers = raw.headers;
  if (headers === undefined) return;
  const pairOk = (h: unknown) =>
    Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && HEADER_NAME.test(h[0]) && typeof h[1] === 'string' && HEADER_VALUE.test(h[1]);
  if (!Array.isArray(headers) || !headers.every(pairOk))
    errors.push(`${at}.raw.headers: must be [name, value] pairs on one line each (no ':' in a name)`);
}

function checkRequest(r: unknown, at: string, errors: string[]): void {
  if (!isObject(r)) return void errors.push(`${at}: must be an object`);
  if (typeof r.nonce !== 'string' || r.nonce === '' || /\s/.test(r.nonce)) {
    errors.push(`${at}.nonce: must be a non-empty string without whitespace`);
  }
  if (typeof r.protocol !== 'string' || !PROBE.includes(r.protocol)) {
    errors.push(`${at}.protocol: must be one of ${PROBE.join(', ')}, got ${JSON.stringify(r.protocol)}`);
  }
  if (typeof r.host !== 'string' || r.host === '') errors.push(`${at}.host: must be a non-empty string`);
  if ((r.protocol as ProbeProtocol) !== 'icmp' && !isPort(r.port)) {
    errors.push(`${at}.port: must be an integer 1-65535 for ${String(r.protocol)}, got ${JSON.stringify(r.port)}`);
  }
  if (r.http !== undefined && !isObject(r.http)) errors.push(`${at}.http: must be an object`);
  if (isObject(r.http) && r.http.raw !== undefined) checkRaw(r.http, `${at}.http`, errors);
  if (r.tls !== undefined && !isObject(r.tls)) errors.push(`${at}.tls: must be an object`);
  if (r.timeoutMs !== undefined) {
    const t = r.timeoutMs;
    const okMs = (x: unknown) => x === undefined || (typeof x === 'number' && x > 0 && Number.isFinite(x));
    if (!isObject(t) || !okMs(t.connect) || !okMs(t.total)) errors.push(`${at}.timeoutMs: connect/total must be positive numbers`);
  }
}

/** A batch is a JSON array of requests or one request per line (JSON lines). */
export function parseProbeRequests(text: string): Parsed<ProbeRequest[]> {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, errors: ['no probe requests on stdin (expected a JSON array or JSON lines)'] };
  let items: unknown[];
  try {
    if (trimmed.startsWith('[')) {
      const parsed: unknown = JSON.parse(trimmed);
      if (!Array.isArray(parsed)) return { ok: false, errors: ['expected a JSON array'] };
      items = parsed;
    } else {
      items = [];
      trimmed.split('\n').forEach((l, i) => {
        if (l.trim() === '') return;
        try {
          items.push(JSON.parse(l) as unknown);
        } catch {
          throw new Error(`line ${i + 1} is not valid JSON: ${l.slice(0, 80)}`);
        }
      });
    }
  } catch (err) {
    return { ok: false, errors: [err instanceof Error ? err.message : String(err)] };
  }
  return checkRequestList(items);
}

/** Chains of requests (`call --chains`, the control socket's chains): an array of arrays of ProbeRequests. */
function checkChainList(v: unknown): Parsed<ProbeRequest[][]> {
  if (!Array.isArray(v) || !v.every((c) => Array.isArray(c)))
    return { ok: false, errors: ['expected a JSON array of arrays of probe requests (one array per chain)'] };
  const errors: string[] = [];
  v.forEach((c: unknown[], i) => c.forEach((r, j) => checkRequest(r, `chain[${i}].request[${j}]`, errors)));
  return errors.length ? { ok: false, errors } : { ok: true, value: v as ProbeRequest[][] };
}

export function checkChains(v: unknown): ProbeRequest[][] | string {
  const r = checkChainList(v);
  return r.ok ? r.value : r.errors.join('; ');
}

/** `call --chains` input: one JSON document, an array of chains. */
export function parseProbeChains(text: string): Parsed<ProbeRequest[][]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`not valid JSON: ${(err as Error).message}`] };
  }
  return checkChainList(parsed);
}

function checkRequestList(items: unknown[]): Parsed<ProbeRequest[]> {
  const errors: string[] = [];
  items.forEach((r, i) => checkRequest(r, `request[${i}]`, errors));
  return errors.length ? { ok: false, errors } : { ok: true, value: items as ProbeRequest[] };
}

/** An already-parsed batch (the control socket's `call` query): the requests, or one message naming the faults. */
export function checkRequests(v: unknown): ProbeRequest[] | string {
  if (!Array.isArray(v)) return 'requests must be an array of probe requests';
  const r = checkRequestList(v);
  return r.ok ? r.value : r.errors.join('; ');
}
