/**
 * RequestAuthentication: the JWT check the destination's sidecar makes on HTTP requests, as Istio configures
 * Envoy's jwt_authn filter for it (every jwtRule of every applicable policy is a provider; the requirement is
 * "any provider, or no token at all", Envoy's `allow_missing`), and what a verified token makes available to
 * AuthorizationPolicy (`requestPrincipals`, `request.auth.*` conditions).
 *
 * Facts followed (Istio 1.9 and later; the model's version is MODEL_ISTIO_VERSION):
 * - istio.io reference security/request_authentication: a request without a token is accepted with no
 *   authenticated identity; a request with an invalid token is rejected (401); the principal is `<iss>/<sub>`.
 * - Envoy jwt_authn authenticator.cc `startVerify`: the checks run in this order, each with its own status text:
 *   parse → issuer configured for the token's location → time (nbf, exp; 60 s clock skew) → audiences →
 *   signature (a JWKS key matching kid/alg, then the signature itself). The filter answers 403 when the
 *   audiences are not allowed and 401 for every other failure (filter.cc; istio/istio tests/integration/security
 *   jwt_test.go "invalid-aud" expects 403, "expired-token" 401). A token whose issuer no rule names is
 *   rejected too ("Jwt issuer is not configured": envoyproxy/envoy#15167, in Istio since 1.9), and when a
 *   request carries several tokens, all must be valid.
 * - Envoy's default token locations: `Authorization: Bearer <token>` and the `access_token` query parameter,
 *   used only when a rule names neither fromHeaders nor fromParams (extractor.cc). Without forwardOriginalToken
 *   the token's header (or query parameter) is removed before the request reaches the application; an
 *   outputPayloadToHeader header a client sends is always removed.
 * - Conditions (istio.io reference security/conditions): request.auth.principal, .audiences (`aud`),
 *   .presenter (`azp`), .claims[name] — a string claim or a list of strings, matched with Istio's string
 *   patterns; nested claims `request.auth.claims[a][b]` since Istio 1.8 (release note, istio/istio#21340).
 */
import { createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import semver from 'semver';
import { isEmptySelector, matchesPattern, selectorMatches } from './match.js';
import { ROOT_NAMESPACE } from './mesh.js';
import { formatRef, refOf, type JwtRule, type Labels, type RequestAuthentication } from './types.js';

/** What a verified token makes available to AuthorizationPolicy. */
export interface RequestAuth {
  /** `<iss>/<sub>`. */
  readonly principal: string;
  readonly audiences: readonly string[];
  readonly presenter?: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Envoy's status texts (jwt_verify_lib status.cc), the body of the 401 the sidecar answers. */
export const JWT_STATUS = {
  badFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  unknownIssuer: 'Jwt issuer is not configured',
  notYetValid: 'Jwt not yet valid',
  expired: 'Jwt is expired',
  audience: 'Audiences in Jwt are not allowed',
  noKey: "Jwks doesn't have key to match kid or alg from Jwt",
  verification: 'Jwt verification fails',
} as const;

/**
 * Before Envoy's fix (envoyproxy/envoy#15167, in Istio 1.9), `allow_missing` turned a token of an issuer no rule
 * names into a missing one: the request passed without a principal. From this version on it is refused.
 */
export const UNKNOWN_ISSUER_REJECTED_SINCE = '1.9.0';

/** Envoy's default clock skew for exp/nbf (jwt_verify_lib kClockSkewInSecond). */
export const CLOCK_SKEW_SECONDS = 60;

export interface JwtRequest {
  /** Lower-case header names; duplicates already joined. */
  readonly headers: Readonly<Record<string, string>>;
  /** The request path with its query (`/x?access_token=…`). */
  readonly path: string;
  readonly method?: string;
}

/**
 * Istio sets jwt_authn's `bypass_cors_preflight`: an OPTIONS request with Origin and Access-Control-Request-Method
 * is not checked at all (jwt_test.go "expired-token-cors-preflight-request-allowed"; without Origin it is).
 */
function isCorsPreflight(request: JwtRequest): boolean {
  return request.method === 'OPTIONS' && !!request.headers['origin'] && !!request.headers['access-control-request-method'];
}

/** What the sidecar changes in a request it lets through. */
export interface Forwarding {
  /**
   * Header names removed before forwarding: every rule's outputPayloadToHeader (a client never sets it, Envoy
   * extractor.cc sanitizeHeaders) and the headers of verified tokens whose rule does not forwardOriginalToken.
   */
  readonly removeHeaders: readonly string[];
  /** Query parameters of verified tokens removed from the path (JwtParamLocation::removeJwt). */
  readonly removeParams: readonly string[];
  /** Headers added (outputPayloadToHeader: the token's payload segment as it arrived). */
  readonly addHeaders: Readonly<Record<string, string>>;
}

export type AuthnDecision =
  /** No RequestAuthentication applies, or no token in any configured location: no request principal. */
  | ({ readonly kind: 'anonymous'; readonly reason: string; readonly trace: readonly string[] } & Forwarding)
  | {
      readonly kind: 'rejected';
      /** 403 for a token whose audiences are not allowed, 401 for every other failure (Envoy jwt_authn filter.cc). */
      readonly status: 401 | 403;
      /** Envoy's status text, the response body. */
      readonly body: string;
      readonly reason: string;
      readonly trace: readonly string[];
    }
  | ({
      readonly kind: 'authenticated';
      readonly auth: RequestAuth;
      readonly reason: string;
      readonly trace: readonly string[];
    } & Forwarding);

/** The policies that apply to a workload: the root namespace's and its namespace's, narrowed by selector. */
export function requestAuthenticationsFor(
  policies: readonly RequestAuthentication[],
  destination: { readonly namespace: string; readonly labels: Labels },
  rootNamespace = ROOT_NAMESPACE,
): RequestAuthentication[] {
  return policies.filter((p) => {
    const ns = p.metadata.namespace;
    if (ns !== rootNamespace && ns !== destination.namespace) return false;
    return isEmptySelector(p.selector) || selectorMatches(p.selector, destination.labels);
  });
}

interface Location {
  readonly header?: string;
  readonly prefix?: string;
  readonly param?: string;
}

const DEFAULT_LOCATIONS: readonly Location[] = [{ header: 'authorization', prefix: 'Bearer ' }, { param: 'access_token' }];

function locationsOf(rule: JwtRule): readonly Location[] {
  if (rule.fromHeaders.length === 0 && rule.fromParams.length === 0) return DEFAULT_LOCATIONS;
  return [...rule.fromHeaders.map((h) => ({ header: h.name, prefix: h.prefix })), ...rule.fromParams.map((param) => ({ param }))];
}

const sameLocation = (a: Location, b: Location) =>
  a.param !== undefined ? a.param === b.param : a.header === b.header && (a.prefix ?? '') === (b.prefix ?? '');

/** Base64url characters and the dot: Envoy's token starts at the first of them after the prefix (extractJWT). */
const TOKEN_START = /[A-Za-z0-9_.-]/;

function queryParams(path: string): URLSearchParams {
  const q = path.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : path.slice(q + 1));
}

interface Found {
  readonly token: string;
  readonly location: Location;
}

function extract(request: JwtRequest, locations: readonly Location[]): Found[] {
  const params = queryParams(request.path);
  const out: Found[] = [];
  for (const location of locations) {
    if (location.param !== undefined) {
      const value = params.get(location.param);
      if (value) out.push({ token: value, location });
      continue;
    }
    // Envoy extractor.cc: the prefix may stand anywhere in the value (case-sensitive); the token is the rest of the
    // value from the first base64url character or dot after it (or the whole value when there is none).
    const value = request.headers[location.header ?? ''];
    const prefix = location.prefix ?? '';
    if (value === undefined) continue;
    let token = value;
    if (prefix !== '') {
      const at = value.indexOf(prefix);
      if (at < 0) continue;
      const rest = value.slice(at + prefix.length);
      const start = rest.search(TOKEN_START);
      token = start < 0 ? value : rest.slice(start);
    }
    if (token) out.push({ token, location });
  }
  // One token found in two locations is one token (Envoy dedupes by value).
  return out.filter((f, i) => out.findIndex((g) => g.token === f.token) === i);
}

interface ParsedJwt {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  /** The payload segment as it arrived (base64url). */
  readonly payloadText: string;
  readonly signingInput: string;
  readonly signature: Buffer;
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function parseJwt(token: string): ParsedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  const payload = decodeJson(p);
  if (!header || !payload || typeof header['alg'] !== 'string') return undefined;
  return { header, payload, payloadText: p, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

/** `aud` as a list (a string or a list of strings). */
export function audiencesOf(payload: Readonly<Record<string, unknown>>): string[] {
  const aud = payload['aud'];
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

/** jwt_verify_lib CheckAudience: `http(s)://` and a trailing `/` are ignored on both sides. */
function sameAudience(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/^https?:\/\//, '').replace(/\/$/, '');
  return norm(a) === norm(b);
}

const ALGS: Readonly<Record<string, { kty: string; hash: string; dsa?: 'ieee-p1363' }>> = {
  RS256: { kty: 'RSA', hash: 'sha256' },
  RS384: { kty: 'RSA', hash: 'sha384' },
  RS512: { kty: 'RSA', hash: 'sha512' },
  ES256: { kty: 'EC', hash: 'sha256', dsa: 'ieee-p1363' },
  ES384: { kty: 'EC', hash: 'sha384', dsa: 'ieee-p1363' },
};

export const SUPPORTED_JWT_ALGS = Object.keys(ALGS);

/** The keys of a JWKS text; unreadable keys are skipped, as Envoy skips keys it cannot load. */
function keysOf(jwks: string): JsonWebKey[] {
  try {
    const parsed: unknown = JSON.parse(jwks);
    const keys = typeof parsed === 'object' && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
    return Array.isArray(keys) ? keys.filter((k): k is JsonWebKey => typeof k === 'object' && k !== null) : [];
  } catch {
    return [];
  }
}

/** jwt_verify_lib verifyJwtWithoutTimeChecking: keys matching kid and alg are tried; none → "no key". */
function verifyWithJwks(jwt: ParsedJwt, jwks: string): 'ok' | 'noKey' | 'verification' {
  const alg = String(jwt.header['alg']);
  const spec = ALGS[alg];
  if (!spec) return 'noKey';
  const kid = typeof jwt.header['kid'] === 'string' ? jwt.header['kid'] : undefined;
  let matched = false;
  for (const key of keysOf(jwks)) {
    if (kid !== undefined && typeof key.kid === 'string' && key.kid !== kid) continue;
    if (key.kty !== spec.kty || (typeof key.alg === 'string' && key.alg !== alg)) continue;
    matched = true;
    try {
      const publicKey = createPublicKey({ key, format: 'jwk' });
      const ok = verifySignature(
        spec.hash,
        Buffer.from(jwt.signingInput),
        spec.dsa ? { key: publicKey, dsaEncoding: spec.dsa } : publicKey,
        jwt.signature,
      );
      if (ok) return 'ok';
    } catch {
      /* a key node cannot load verifies nothing */
    }
  }
  return matched ? 'verification' : 'noKey';
}

type TokenResult =
  | { readonly ok: true; readonly jwt: ParsedJwt; readonly payload: Record<string, unknown>; readonly rule: JwtRule; readonly location: Location }
  | { readonly ok: false; readonly status: keyof typeof JWT_STATUS; readonly detail: string };

function verifyToken(found: Found, rules: readonly JwtRule[], defaultJwks: string, nowSeconds: number): TokenResult {
  const jwt = parseJwt(found.token);
  if (!jwt) return { ok: false, status: 'badFormat', detail: 'the token is not a JWT' };
  const iss = jwt.payload['iss'];
  const candidates = rules.filter((r) => r.issuer === iss && locationsOf(r).some((l) => sameLocation(l, found.location)));
  if (candidates.length === 0)
    return { ok: false, status: 'unknownIssuer', detail: `no jwtRule for issuer ${JSON.stringify(iss)} reads this location` };
  // Every rule is a provider of its own and any one of them may accept the token (policies are combined).
  const results = candidates.map((rule) => verifyWithRule(jwt, rule, found, defaultJwks, nowSeconds));
  return results.find((r) => r.ok) ?? (results[0] as TokenResult);
}

function verifyWithRule(jwt: ParsedJwt, rule: JwtRule, found: Found, defaultJwks: string, nowSeconds: number): TokenResult {
  const nbf = jwt.payload['nbf'];
  if (typeof nbf === 'number' && nbf > nowSeconds + CLOCK_SKEW_SECONDS)
    return { ok: false, status: 'notYetValid', detail: `nbf ${nbf} is in the future` };
  const exp = jwt.payload['exp'];
  if (typeof exp === 'number' && exp < nowSeconds - CLOCK_SKEW_SECONDS) return { ok: false, status: 'expired', detail: `exp ${exp} has passed` };
  if (rule.audiences.length > 0 && !audiencesOf(jwt.payload).some((a) => rule.audiences.some((b) => sameAudience(a, b)))) {
    return { ok: false, status: 'audience', detail: `aud ${JSON.stringify(jwt.payload['aud'] ?? null)} is not one of ${rule.audiences.join(', ')}` };
  }
  const keys = rule.jwks ?? defaultJwks;
  const verified = verifyWithJwks(jwt, keys);
  const where = rule.jwks !== undefined ? "the rule's inline jwks" : "the target issuer's JWKS";
  if (verified !== 'ok') return { ok: false, status: verified, detail: `${where}: ${JWT_STATUS[verified]}` };
  return { ok: true, jwt, payload: jwt.payload, rule, location: found.location };
}

function authOf(payload: Readonly<Record<string, unknown>>): RequestAuth {
  const iss = typeof payload['iss'] === 'string' ? payload['iss'] : '';
  const sub = typeof payload['sub'] === 'string' ? payload['sub'] : '';
  const azp = payload['azp'];
  return { principal: `${iss}/${sub}`, audiences: audiencesOf(payload), ...(typeof azp === 'string' ? { presenter: azp } : {}), claims: payload };
}

/**
 * The jwt_authn decision for one HTTP request at a workload. `defaultJwks` is the JWKS a rule without `jwks`
 * is verified against (the target's own issuer); `nowSeconds` the current Unix time.
 */
export function authenticateRequest(
  request: JwtRequest,
  policies: readonly RequestAuthentication[],
  destination: { readonly namespace: string; readonly labels: Labels },
  defaultJwks: string,
  nowSeconds: number,
  options: { readonly rootNamespace?: string; readonly istioVersion?: string } = {},
): AuthnDecision {
  const rootNamespace = options.rootNamespace ?? ROOT_NAMESPACE;
  const version = options.istioVersion ? semver.coerce(options.istioVersion) : null;
  const unknownIssuerPasses = version !== null && semver.lt(version, UNKNOWN_ISSUER_REJECTED_SINCE);
  const applicable = requestAuthenticationsFor(policies, destination, rootNamespace);
  const rules = applicable.flatMap((p) => p.jwtRules);
  const trace = applicable.map((p) => `${formatRef(refOf(p))} applies: issuers ${p.jwtRules.map((r) => r.issuer).join(', ') || '(none)'}`);
  const sanitized = [...new Set(rules.flatMap((r) => (r.outputPayloadToHeader ? [r.outputPayloadToHeader.toLowerCase()] : [])))];
  const anonymous = (reason: string): AuthnDecision => ({
    kind: 'anonymous',
    reason,
    trace,
    removeHeaders: sanitized,
    removeParams: [],
    addHeaders: {},
  });
  if (rules.length === 0) return anonymous('no RequestAuthentication applies: no request principal');
  if (isCorsPreflight(request)) return anonymous('a CORS preflight request: the JWT check is bypassed (bypass_cors_preflight)');
  const locations = rules.flatMap(locationsOf).filter((l, i, all) => all.findIndex((m) => sameLocation(l, m)) === i);
  const tokens = extract(request, locations);
  if (tokens.length === 0) return anonymous('no JWT in the request: it passes without a request principal (allow_missing)');
  const verified: Array<Extract<TokenResult, { ok: true }>> = [];
  for (const token of tokens) {
    const result = verifyToken(token, rules, defaultJwks, nowSeconds);
    const where = token.location.param !== undefined ? `query parameter ${token.location.param}` : `header ${token.location.header}`;
    if (!result.ok && result.status === 'unknownIssuer' && unknownIssuerPasses) {
      trace.push(`JWT in ${where}: ${result.detail}; before Istio ${UNKNOWN_ISSUER_REJECTED_SINCE} treated as no token`);
      continue;
    }
    if (!result.ok) {
      const body = JWT_STATUS[result.status];
      const status = result.status === 'audience' ? 403 : 401;
      trace.push(`JWT in ${where}: ${result.detail}`);
      return { kind: 'rejected', status, body, reason: `JWT rejected with ${status} "${body}" (${result.detail})`, trace };
    }
    trace.push(`JWT in ${where}: verified for issuer ${result.rule.issuer}`);
    verified.push(result);
  }
  const first = verified[0];
  if (!first) return anonymous('no verifiable JWT in the request: no request principal');
  const auth = authOf(first.payload);
  const dropped = verified.filter((v) => !v.rule.forwardOriginalToken);
  const removeHeaders = [...new Set([...sanitized, ...dropped.flatMap((v) => (v.location.header ? [v.location.header] : []))])];
  const removeParams = [...new Set(dropped.flatMap((v) => (v.location.param !== undefined ? [v.location.param] : [])))];
  const addHeaders: Record<string, string> = {};
  for (const v of verified) if (v.rule.outputPayloadToHeader) addHeaders[v.rule.outputPayloadToHeader.toLowerCase()] = v.jwt.payloadText;
  return { kind: 'authenticated', auth, removeHeaders, removeParams, addHeaders, reason: `JWT verified: request principal ${auth.principal}`, trace };
}

/** `request.auth.claims[a][b]` → ['a', 'b']; undefined for a malformed key. */
export function claimPath(key: string): string[] | undefined {
  const rest = key.slice('request.auth.claims'.length);
  const names = [...rest.matchAll(/\[([^\][]+)\]/g)].map((m) => m[1] as string);
  return names.length > 0 && names.map((n) => `[${n}]`).join('') === rest ? names : undefined;
}

/** A claim's string values: a string, or the strings of a list; anything else matches nothing. */
function claimValues(claims: Readonly<Record<string, unknown>>, path: readonly string[]): string[] {
  let value: unknown = claims;
  for (const name of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
    value = (value as Record<string, unknown>)[name];
  }
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Is `key` one of the request.auth condition keys the model evaluates? */
export function isRequestAuthKey(key: string): boolean {
  if (key === 'request.auth.principal' || key === 'request.auth.audiences' || key === 'request.auth.presenter') return true;
  return key.startsWith('request.auth.claims') && claimPath(key) !== undefined;
}

/** The value test of a `request.auth.*` condition; undefined for any other key. No token: nothing matches. */
export function requestAuthTest(key: string, auth: RequestAuth | undefined): ((value: string) => boolean) | undefined {
  if (!isRequestAuthKey(key)) return undefined;
  const anyOf = (values: readonly string[]) => (pattern: string) => values.some((v) => matchesPattern(pattern, v));
  if (!auth) return () => false;
  switch (key) {
    case 'request.auth.principal':
      return anyOf([auth.principal]);
    case 'request.auth.audiences':
      return anyOf(auth.audiences);
    case 'request.auth.presenter':
      return anyOf(auth.presenter === undefined ? [] : [auth.presenter]);
    default:
      return anyOf(claimValues(auth.claims, claimPath(key) ?? []));
  }
}

/** The path to forward: `removeParams` taken out of the query (what Envoy's JwtParamLocation::removeJwt does). */
export function withoutParams(path: string, removeParams: readonly string[]): string {
  const q = path.indexOf('?');
  if (q < 0 || removeParams.length === 0) return path;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  const kept = path
    .slice(q + 1)
    .split('&')
    .filter((pair) => !removeParams.includes(decode(pair.split('=')[0] ?? '')));
  return kept.length > 0 ? `${path.slice(0, q)}?${kept.join('&')}` : path.slice(0, q);
}
