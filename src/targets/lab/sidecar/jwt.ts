/**
 * The inbound HTTP filter chain's JWT step, as Istio orders it: jwt_authn runs before RBAC, so a token it refuses
 * is answered here (401, or 403 when the audiences are not allowed) and never meets an AuthorizationPolicy; a
 * verified token's principal and claims go on to authorization. The decision is the model's (model/jwt.ts).
 */
import type { ServerResponse } from 'node:http';
import { authenticateRequest, withoutParams, type AuthnDecision, type NormalizedRequest } from '../../../model/index.js';
import type { Context } from './context.js';

const NO_KEYS = '{"keys":[]}';

export function authenticateInbound(ctx: Context, n: NormalizedRequest): AuthnDecision {
  const self = ctx.config.self;
  return authenticateRequest(
    { headers: n.headers, path: n.path, method: n.method },
    ctx.requestAuthentications,
    { namespace: self.namespace, labels: self.labels },
    ctx.config.jwks ?? NO_KEYS,
    Math.floor(Date.now() / 1000),
    { istioVersion: ctx.config.istioVersion },
  );
}

/** Envoy's local reply for a refused token: its status text as the body, and a WWW-Authenticate challenge. */
export function replyJwtRejected(res: ServerResponse, d: Extract<AuthnDecision, { kind: 'rejected' }>, host: string, path: string): void {
  // The realm is the request's URI without its query (Envoy buildOriginalUri); only visible ASCII, no quotes.
  const realm = `http://${host}${path}`.replace(/[^\x21-\x7e]|"/g, '');
  res.writeHead(d.status, {
    'www-authenticate': `Bearer realm="${realm}", error="invalid_token"`,
    'content-type': 'text/plain',
    'content-length': Buffer.byteLength(d.body),
    server: 'istio-envoy',
  });
  res.end(d.body);
}

/**
 * Forwarded headers: a client's outputPayloadToHeader header dropped, a verified token's header removed unless
 * forwardOriginalToken, the payload header added.
 */
export function applyAuthnHeaders(headers: Record<string, string | string[]>, d: AuthnDecision): void {
  if (d.kind === 'rejected') return;
  for (const name of d.removeHeaders) delete headers[name];
  Object.assign(headers, d.addHeaders);
}

/** The forwarded path: a verified token's query parameter removed unless forwardOriginalToken. */
export function authnPath(path: string, d: AuthnDecision | undefined): string {
  return d && d.kind !== 'rejected' ? withoutParams(path, d.removeParams) : path;
}
