/**
 * Does one AuthorizationPolicy rule match a request? Semantics of pilot/pkg/security/authz/model: from/to/when
 * ANDed; `from` entries ORed, `to` entries ORed; fields within one source/operation ANDed; values within a field
 * ORed, notValues "none of"; a missing from/to/when matches everything. HTTP-only fields (hosts, methods, paths,
 * requestPrincipals, request.headers conditions) on TCP traffic: in an ALLOW rule the whole rule is skipped (it
 * never matches); in a DENY or AUDIT rule those fields are dropped, so the rule gets broader (model.go checkError).
 */
import { requestAuthTest, type RequestAuth } from './jwt.js';
import { ipInBlock, matchesGlob, matchesPattern } from './match.js';
import { containsPathTemplate, pathTemplateMatches } from './path-template.js';
import { serviceAccountMatches } from './service-account.js';
import type { AuthorizationAction, AuthzRule, OperationField, SourceField, ValueMatch } from './types.js';

export interface AuthzRequest {
  readonly destination: {
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly port: number;
    /** The address the connection was sent to (`destination.ip`); absent: no `destination.ip` condition matches. */
    readonly ip?: string;
  };
  /** The TLS connection arriving at the sidecar: `connection.sni` is its SNI (absent for plaintext). */
  readonly connection?: { readonly sni?: string };
  readonly source: {
    /** Peer identity from the mTLS client certificate, with or without `spiffe://`; absent for plaintext. */
    readonly principal?: string;
    /** Direct peer address. */
    readonly ip: string;
    /** Original client address (remote-ip.ts remoteIpOf: X-Forwarded-For on HTTP); defaults to `ip`. */
    readonly remoteIp?: string;
  };
  readonly protocol: 'tcp' | 'http';
  readonly http?: { readonly method: string; readonly path: string; readonly host: string; readonly headers: Readonly<Record<string, string>> };
  /** A JWT verified by RequestAuthentication (model/jwt.ts); absent: no request principal. */
  readonly auth?: RequestAuth;
}

export type RuleResult =
  | { readonly matched: true; readonly ignored: readonly string[]; readonly reason: string }
  | { readonly matched: false; readonly reason: string };

const HTTP_ONLY_SOURCE: ReadonlySet<SourceField> = new Set(['requestPrincipals']);
const HTTP_ONLY_OPERATION: ReadonlySet<OperationField> = new Set(['hosts', 'methods', 'paths']);

/** `spiffe://cluster.local/ns/foo/sa/bar` → `cluster.local/ns/foo/sa/bar`: policies are written without the scheme. */
export function normalizePrincipal(principal: string | undefined): string | undefined {
  return principal?.startsWith('spiffe://') ? principal.slice('spiffe://'.length) : principal;
}

/** The namespace of `<trust-domain>/ns/<namespace>/sa/<account>`; undefined without a principal. */
export function namespaceOfPrincipal(principal: string | undefined): string | undefined {
  return normalizePrincipal(principal)?.match(/\/ns\/([^/]+)\//)?.[1];
}

function fieldMatches(match: ValueMatch, test: (value: string) => boolean): boolean {
  if (match.values.length > 0 && !match.values.some(test)) return false;
  return !match.notValues.some(test);
}

function headerValue(request: AuthzRequest, name: string): string | undefined {
  const headers = request.http?.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

function sourceTest(field: SourceField, request: AuthzRequest): (value: string) => boolean {
  const principal = normalizePrincipal(request.source.principal);
  switch (field) {
    case 'principals':
      return (v) => matchesPattern(normalizePrincipal(v) ?? v, principal);
    case 'namespaces':
      return (v) => matchesGlob(v, namespaceOfPrincipal(principal));
    case 'ipBlocks':
      return (v) => ipInBlock(v, request.source.ip);
    case 'remoteIpBlocks':
      return (v) => ipInBlock(v, request.source.remoteIp ?? request.source.ip);
    // `<iss>/<sub>` of a verified JWT (model/jwt.ts); without one there is no request principal.
    case 'requestPrincipals':
      return (v) => matchesPattern(v, request.auth?.principal);
    case 'serviceAccounts':
      return (v) => serviceAccountMatches(v, principal);
  }
}

function operationTest(field: OperationField, request: AuthzRequest): (value: string) => boolean {
  switch (field) {
    case 'ports':
      return (v) => Number(v) === request.destination.port;
    // Istio's HostMatcher (pilot/pkg/security/authz/matcher/header.go): the :authority as sent, ignoring case, no port
    // handling — "exact match authorization policies only match the exact string given for the `hosts` or `notHosts`
    // fields" (istio.io Security Best Practices, Writing Host Match Policies): `example.com` misses `example.com:80`.
    case 'hosts':
      return (v) => matchesPattern(v, request.http?.host, true);
    case 'methods':
      return (v) => matchesPattern(v, request.http?.method);
    case 'paths':
      // Path templates ({*}, {**}) are Envoy uri templates; everything else is an Istio string pattern.
      return (v) => (containsPathTemplate(v) ? pathTemplateMatches(v, request.http?.path) : matchesPattern(v, request.http?.path.split('?')[0]));
  }
}

function conditionTest(key: string, request: AuthzRequest): ((value: string) => boolean) | undefined {
  const header = key.match(/^request\.headers\[(.+)\]$/)?.[1];
  if (header !== undefined) return (v) => matchesPattern(v, headerValue(request, header));
  if (key.startsWith('request.auth.')) return requestAuthTest(key, request.auth);
  switch (key) {
    case 'source.ip':
      return sourceTest('ipBlocks', request);
    case 'remote.ip':
      return sourceTest('remoteIpBlocks', request);
    case 'source.namespace':
      return sourceTest('namespaces', request);
    case 'source.principal':
      return sourceTest('principals', request);
    case 'source.serviceAccount':
      return sourceTest('serviceAccounts', request);
    case 'destination.port':
      return operationTest('ports', request);
    case 'destination.ip':
      return (v) => ipInBlock(v, request.destination.ip);
    case 'connection.sni':
      return (v) => matchesPattern(v, request.connection?.sni);
    default:
      return undefined;
  }
}

interface Constraint {
  readonly path: string;
  readonly httpOnly: boolean;
  readonly match: ValueMatch;
  readonly test: ((value: string) => boolean) | undefined;
}

/** All constraints of one `from` (or `to`) entry, plus every `when` condition (Istio merges them the same way). */
function constraintsOf(rule: AuthzRule, request: AuthzRequest): { from: Constraint[][]; to: Constraint[][]; when: Constraint[] } {
  const from = rule.from.map((source, i) =>
    (Object.entries(source.fields) as Array<[SourceField, ValueMatch]>).map(([field, match]) => ({
      path: `from[${i}].source.${field}`,
      httpOnly: HTTP_ONLY_SOURCE.has(field),
      match,
      test: sourceTest(field, request),
    })),
  );
  const to = rule.to.map((operation, i) =>
    (Object.entries(operation.fields) as Array<[OperationField, ValueMatch]>).map(([field, match]) => ({
      path: `to[${i}].operation.${field}`,
      httpOnly: HTTP_ONLY_OPERATION.has(field),
      match,
      test: operationTest(field, request),
    })),
  );
  const when = rule.when.map((condition, i) => ({
    path: `when[${i}] ${condition.key}`,
    httpOnly: condition.key.startsWith('request.headers') || condition.key.startsWith('request.auth.'),
    match: condition,
    test: conditionTest(condition.key, request),
  }));
  return { from, to, when };
}

/** The first failing constraint of an AND group, or undefined when all hold. */
function firstFailure(group: readonly Constraint[]): Constraint | undefined {
  return group.find((c) => c.test === undefined || !fieldMatches(c.match, c.test));
}

export function matchRule(rule: AuthzRule, request: AuthzRequest, action: AuthorizationAction): RuleResult {
  const forTcp = request.protocol === 'tcp';
  const all = constraintsOf(rule, request);
  const httpOnly = [...all.from.flat(), ...all.to.flat(), ...all.when].filter((c) => c.httpOnly).map((c) => c.path);
  if (forTcp && httpOnly.length > 0 && action === 'ALLOW') {
    return { matched: false, reason: `ALLOW rule uses HTTP-only ${httpOnly.join(', ')} on TCP traffic: the rule never matches` };
  }
  const keep = (c: Constraint): boolean => !(forTcp && c.httpOnly);
  const ignored = forTcp ? httpOnly : [];
  const fromGroups = all.from.map((g) => g.filter(keep));
  const toGroups = all.to.map((g) => g.filter(keep));
  const whenFailure = firstFailure(all.when.filter(keep));
  const describe = (c: Constraint): string => `${c.path} does not match`;
  if (fromGroups.length > 0 && !fromGroups.some((g) => firstFailure(g) === undefined)) {
    return { matched: false, reason: fromGroups.map((g) => describe(firstFailure(g) as Constraint)).join('; ') };
  }
  if (toGroups.length > 0 && !toGroups.some((g) => firstFailure(g) === undefined)) {
    return { matched: false, reason: toGroups.map((g) => describe(firstFailure(g) as Constraint)).join('; ') };
  }
  if (whenFailure) return { matched: false, reason: describe(whenFailure) };
  const note = ignored.length > 0 ? ` (HTTP-only ${ignored.join(', ')} ignored on TCP)` : '';
  return { matched: true, ignored, reason: `rule matches${note}` };
}
