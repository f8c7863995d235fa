/**
 * Pure helpers that turn what a listener saw into an Observation: the X-Forwarded-Client-Cert parser, the
 * client-certificate URI SAN, and the rule deciding which peer identity the server may rely on.
 */
import type { Observation, Xfcc } from './types.js';

export const XFCC_HEADER = 'x-forwarded-client-cert';

/**
 * Splits `s` on `sep` outside double quotes. Envoy quotes values that contain `,`, `;` or `=` (Subject, DNS) and
 * escapes an inner quote as `\"`.
 */
function splitUnquoted(s: string, sep: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && quoted && i + 1 < s.length) {
      current += c + s[i + 1];
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (c === sep && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

function unquote(v: string): string {
  const t = v.trim();
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"')) return t.slice(1, -1).replace(/\\"/g, '"');
  return t;
}

/**
 * Parses an XFCC header value. Several proxies may each append an element (comma-separated); the last one was
 * added by the proxy nearest to the application, so it describes the connection that reached this workload.
 */
export function parseXfcc(raw: string): Xfcc {
  const elements = splitUnquoted(raw, ',').filter((e) => e.trim() !== '');
  const result: Xfcc = { raw };
  const last = elements[elements.length - 1];
  if (last === undefined) return result;
  for (const pair of splitUnquoted(last, ';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    const value = unquote(pair.slice(eq + 1));
    if (key === 'by' && result.by === undefined) result.by = value;
    else if (key === 'uri' && result.uri === undefined) result.uri = value;
    else if (key === 'hash' && result.hash === undefined) result.hash = value;
    else if (key === 'subject' && result.subject === undefined) result.subject = value;
  }
  return result;
}

/** The first `URI:` entry of a certificate's subjectaltname string as node's tls module formats it. */
export function uriSanOf(subjectaltname: string | undefined): string | undefined {
  if (!subjectaltname) return undefined;
  for (const entry of splitUnquoted(subjectaltname, ',')) {
    const t = entry.trim();
    if (t.startsWith('URI:')) return unquote(t.slice(4));
  }
  return undefined;
}

/**
 * Which identity the server may rely on. A certificate the agent verified itself wins. An XFCC header is only
 * evidence when the agent was told a sidecar sits in front of it (the sidecar strips client-forged headers on
 * plaintext connections); otherwise it is merely what the client claimed.
 */
export function peerIdentity(tlsUriSan: string | undefined, xfcc: Xfcc | undefined, behindSidecar: boolean): Observation['peer'] {
  if (tlsUriSan) return { identity: tlsUriSan, basis: 'tls-client-certificate' };
  if (xfcc?.uri) return { identity: xfcc.uri, basis: behindSidecar ? 'xfcc-from-sidecar' : 'header-unverified' };
  return undefined;
}

/** Node's header object flattened: repeated headers joined as HTTP allows (`, `). */
export function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Strips the IPv4-mapped IPv6 prefix so a source reads the same whatever socket family accepted it. */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
