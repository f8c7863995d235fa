/**
 * The target's own JWT issuer: an RS256 key pair made once per run (per process), whose public JWKS is what a
 * RequestAuthentication rule without `jwks`/`jwksUri` is verified against (the lab's sidecars get it in their
 * config; on clusters the render fills it into such rules as inline `jwks`). A probe's `http.jwt` becomes a token
 * here, on the meshprobe side, and travels in the probe request; the private key never leaves this process.
 *
 * `signedBy: other` signs with a second key that no JWKS holds, under the run key's own `kid`, so the verifier
 * finds a key and the signature fails ("Jwt verification fails"), which is what a forged token meets.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/** The probe format's `http.jwt` (scenario/schema.ts), as the issuer needs it. */
export interface TokenSpec {
  readonly issuer: string;
  readonly subject: string;
  readonly audiences?: readonly string[];
  readonly presenter?: string;
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly expired?: boolean;
  readonly signedBy?: 'lab' | 'other';
}

/** Lifetime of a minted token, and how long ago an `expired` one ran out (well past Envoy's 60 s clock skew). */
export const TOKEN_LIFETIME_SECONDS = 3600;

export interface JwtIssuer {
  readonly kid: string;
  /** `{"keys":[…]}` with the public key, as a RequestAuthentication's inline `jwks` takes it. */
  readonly jwks: string;
  mint(spec: TokenSpec, nowSeconds?: number): string;
}

function keyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function createIssuer(): JwtIssuer {
  const own = keyPair();
  let other: KeyObject | undefined;
  const kid = `meshprobe-${own.publicKey.export({ format: 'jwk' }).n?.slice(0, 16) ?? 'run'}`;
  const jwk = { ...own.publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return {
    kid,
    jwks: JSON.stringify({ keys: [jwk] }),
    mint(spec, nowSeconds = Math.floor(Date.now() / 1000)) {
      const iat = spec.expired ? nowSeconds - 2 * TOKEN_LIFETIME_SECONDS : nowSeconds;
      const aud = spec.audiences?.length === 1 ? spec.audiences[0] : spec.audiences;
      const payload = {
        ...spec.claims,
        iss: spec.issuer,
        sub: spec.subject,
        ...(aud !== undefined && (typeof aud === 'string' || aud.length > 0) ? { aud } : {}),
        ...(spec.presenter !== undefined ? { azp: spec.presenter } : {}),
        iat,
        exp: iat + TOKEN_LIFETIME_SECONDS,
      };
      const input = `${b64({ alg: 'RS256', typ: 'JWT', kid })}.${b64(payload)}`;
      if (spec.signedBy === 'other') other ??= keyPair().privateKey;
      const key = spec.signedBy === 'other' ? (other as KeyObject) : own.privateKey;
      return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
    },
  };
}

let run: JwtIssuer | undefined;

/** The run's issuer, made on first use. */
export function runIssuer(): JwtIssuer {
  run ??= createIssuer();
  return run;
}

/** Where a probe's token travels: a header (default `Authorization: Bearer`) or a query parameter. */
export interface TokenPlacement {
  readonly header?: string;
  readonly prefix?: string;
  readonly param?: string;
}

/** The parts of a probe's HTTP request (scenario `http`) that a token changes. */
interface HttpWithToken {
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly raw?: { readonly requestTarget: string; readonly headers?: Array<[string, string]> };
  readonly jwt?: TokenSpec & TokenPlacement;
}

const withParam = (target: string, param: string, token: string) => `${target}${target.includes('?') ? '&' : '?'}${param}=${token}`;

/**
 * The request the client sends for a probe's `http`: `jwt` becomes a freshly minted token in its place (a header
 * after its prefix, or a query parameter), and is gone from the result. Minted per attempt, so `expired` and the
 * lifetime are relative to the moment of sending.
 */
export function withToken<H extends HttpWithToken>(http: H, issuer: JwtIssuer = runIssuer(), nowSeconds?: number): Omit<H, 'jwt'> {
  const { jwt, ...rest } = http;
  if (!jwt) return rest;
  const token = issuer.mint(jwt, nowSeconds);
  if (jwt.param !== undefined) {
    if (rest.raw) return { ...rest, raw: { ...rest.raw, requestTarget: withParam(rest.raw.requestTarget, jwt.param, token) } };
    return { ...rest, path: withParam(rest.path ?? '/', jwt.param, token) };
  }
  const name = jwt.header ?? 'Authorization';
  const value = `${jwt.header === undefined ? 'Bearer ' : (jwt.prefix ?? '')}${token}`;
  if (rest.raw) return { ...rest, raw: { ...rest.raw, headers: [...(rest.raw.headers ?? []), [name, value]] } };
  return { ...rest, headers: { ...rest.headers, [name]: value } };
}
