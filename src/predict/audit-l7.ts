/**
 * L7 bypass techniques for `audit` (pure): for every AuthorizationPolicy rule that matches paths, hosts, methods
 * or request headers, the requests Istio's normalisation options treat differently (istio.io "Authorization
 * policies" best practices and the path normalization reference; CVE-2021-31920 and relatives), each sent as
 * `http.raw` next to its CANONICAL request — the plain form the policy was written against:
 *   DENY on a value V        canonical: V itself (the policy stops it); variants: other spellings of V
 *   ALLOW on paths P*        canonical: /meshprobe-outside (no ALLOW matches it); variants: P/../meshprobe-outside…
 * A variant is a BYPASS when it gets through while its canonical request is blocked.
 */
import type { AuthorizationPolicy, AuthzRule } from '../model/index.js';
import type { Flow } from './types.js';

export type L7Technique = 'l7-canonical' | 'l7-path' | 'l7-host' | 'l7-method' | 'l7-header';

export interface L7Attempt {
  readonly flow: Flow;
  readonly technique: L7Technique;
  /** What the variant does, e.g. "double slash", shown in the report. */
  readonly variant: string;
  /** Index (in the returned list) of the canonical attempt this variant belongs to; undefined for a canonical. */
  readonly canonical?: number;
}

/** The literal part of an Istio path pattern: "/admin*" → "/admin", "*\/admin" → "/admin". */
const literal = (p: string) => p.replace(/^\*/, '').replace(/\*$/, '');

/** Spellings of a path that some normalisation option maps to it (and others do not). */
export function pathVariants(path: string): Array<[string, string]> {
  const rest = path.slice(1);
  const firstChar = rest.charAt(0);
  const inner = rest.indexOf('/');
  const out: Array<[string, string]> = [
    ['double slash', `/${path}`],
    ['trailing slash', `${path}/`],
    ['upper case', path.toUpperCase()],
    ['dot segment', `/meshprobe/..${path}`],
    ['encoded dot segment', `/meshprobe/%2e%2e${path}`],
    ['query suffix', `${path}?meshprobe`],
    ['fragment suffix', `${path}#meshprobe`],
    ['backslash', inner > 0 ? `/${rest.slice(0, inner)}\\${rest.slice(inner + 1)}` : `/meshprobe\\..\\${rest}`],
    ['encoded slash', inner > 0 ? `/${rest.slice(0, inner)}%2F${rest.slice(inner + 1)}` : `/meshprobe%2F..%2F${rest}`],
  ];
  if (/[a-zA-Z]/.test(firstChar)) out.push(['percent-encoded letter', `/%${firstChar.charCodeAt(0).toString(16)}${rest.slice(1)}`]);
  return out.filter(([, v]) => v !== path);
}

const OUTSIDE = '/meshprobe-outside';

/** ALLOW on a path prefix: ways out of the prefix that look like it before normalisation. */
function escapeVariants(prefix: string): Array<[string, string]> {
  const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return [
    ['dot segment out of the allowed prefix', `${base}/..${OUTSIDE}`],
    ['encoded dot segment out of the allowed prefix', `${base}/%2e%2e${OUTSIDE}`],
    ['encoded slashes out of the allowed prefix', `${base}%2F..%2F${OUTSIDE.slice(1)}`],
    ['backslashes out of the allowed prefix', `${base}\\..\\${OUTSIDE.slice(1)}`],
  ];
}

interface Base {
  readonly from: string;
  readonly to: string;
  readonly port: number;
  /** The service host a request to the destination carries. */
  readonly host: string;
}

function attempt(b: Base, raw: { method?: string; target?: string; host?: string; headers?: Array<[string, string]> }): Flow {
  return {
    from: b.from,
    to: b.to,
    port: b.port,
    protocol: 'http',
    http: {
      raw: {
        method: raw.method ?? 'GET',
        requestTarget: raw.target ?? '/',
        version: '1.1',
        ...(raw.host !== undefined ? { host: raw.host } : {}),
        ...(raw.headers ? { headers: raw.headers } : {}),
      },
    },
  };
}

function group(out: L7Attempt[], technique: L7Technique, canonical: Flow, what: string, variants: Array<[string, Flow]>): void {
  const at = out.length;
  out.push({ flow: canonical, technique: 'l7-canonical', variant: what });
  for (const [variant, flow] of variants) out.push({ flow, technique, variant, canonical: at });
}

/**
 * The operation's own request: its first method and exact host, so that a canonical request matches every other
 * field of the operation (they are ANDed) and only the field under test varies.
 */
function baseRequest(_b: Base, f: AuthzRule['to'][number]['fields']): { method: string; host?: string } {
  const host = f.hosts?.values.find((h) => !h.includes('*'));
  return { method: f.methods?.values[0] ?? 'GET', ...(host ? { host } : {}) };
}

function ruleAttempts(b: Base, action: AuthorizationPolicy['action'], rule: AuthzRule, out: L7Attempt[]): void {
  const hostHeader = `${b.host}:${b.port}`;
  for (const op of rule.to) {
    const f = op.fields;
    const req = baseRequest(b, f);
    const path = literal(f.paths?.values[0] ?? '/');
    const at = (x: { method?: string; target?: string; host?: string }) => attempt(b, { ...req, target: path.startsWith('/') ? path : '/', ...x });
    for (const p of f.paths?.values ?? []) {
      const lit = literal(p);
      if (!lit.startsWith('/')) continue;
      if (action === 'DENY')
        group(
          out,
          'l7-path',
          at({ target: lit }),
          `path ${lit}`,
          pathVariants(lit).map(([v, t]) => [`${v}: ${t}`, at({ target: t })]),
        );
      else if (action === 'ALLOW' && p.endsWith('*'))
        group(
          out,
          'l7-path',
          at({ target: OUTSIDE }),
          `path ${OUTSIDE} (outside ${p})`,
          escapeVariants(lit).map(([v, t]) => [`${v}: ${t}`, at({ target: t })]),
        );
    }
    for (const p of f.paths?.notValues ?? []) {
      const lit = literal(p);
      if (action === 'ALLOW' && lit.startsWith('/'))
        group(
          out,
          'l7-path',
          at({ target: lit }),
          `path ${lit} (notPaths)`,
          pathVariants(lit).map(([v, t]) => [`${v}: ${t}`, at({ target: t })]),
        );
    }
    if (action !== 'DENY') continue;
    for (const h of f.hosts?.values ?? []) {
      if (h.includes('*')) continue;
      const variants: Array<[string, string]> = [
        ['upper-case host', h.toUpperCase()],
        ['host with port', `${h}:${b.port}`],
        ['host with a trailing dot', `${h}.`],
      ];
      group(
        out,
        'l7-host',
        at({ host: h }),
        `host ${h}`,
        variants.filter(([, v]) => v !== h).map(([v, x]) => [`${v}: ${x}`, at({ host: x })]),
      );
    }
    for (const m of f.methods?.values ?? []) {
      const host = req.host ?? hostHeader;
      group(out, 'l7-method', at({ method: m, host }), `method ${m}`, [
        [`lower-case method: ${m.toLowerCase()}`, at({ method: m.toLowerCase(), host })],
      ]);
    }
  }
  if (action !== 'DENY') return;
  for (const c of rule.when) {
    const name = /^request\.headers\[(.+)\]$/.exec(c.key)?.[1];
    const value = c.values[0];
    if (!name || value === undefined || value.includes('*')) continue;
    // Not a variant: surrounding spaces (Envoy's codec strips a value's optional whitespace before matching).
    group(out, 'l7-header', attempt(b, { headers: [[name, value]] }), `header ${name}: ${value}`, [
      [`upper-case header name: ${name.toUpperCase()}`, attempt(b, { headers: [[name.toUpperCase(), value]] })],
      [
        `duplicated header (joined "${value},meshprobe")`,
        attempt(b, {
          headers: [
            [name, value],
            [name, 'meshprobe'],
          ],
        }),
      ],
    ]);
  }
}

/** Every L7 attempt against one destination port, from one source, for the policies that apply to it. */
export function l7Attempts(b: Base, policies: readonly AuthorizationPolicy[]): L7Attempt[] {
  const out: L7Attempt[] = [];
  for (const ap of policies) for (const rule of ap.rules) ruleAttempts(b, ap.action, rule, out);
  return out;
}
