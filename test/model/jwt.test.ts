import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  authenticateRequest,
  authorize,
  createIssuer,
  JWT_STATUS,
  parseResource,
  unsupportedFields,
  type AuthzRequest,
  type RequestAuth,
  type RequestAuthentication,
  withoutParams,
  withToken,
} from '../../src/model/index.js';
import { manifest, parsed } from './fixtures.js';

const issuer = createIssuer();
const NOW = 1_800_000_000;
const httpbin = { namespace: 'foo', labels: { app: 'httpbin' } };
const ra = (spec: object, ns = 'foo', name = 'jwt') => parsed('RequestAuthentication', ns, name, spec);
const LAB_RULE = ra({ jwtRules: [{ issuer: 'testing@secure.istio.io' }] });
const token = (extra: Partial<Parameters<typeof issuer.mint>[0]> = {}) =>
  issuer.mint({ issuer: 'testing@secure.istio.io', subject: 'alice', ...extra }, NOW);
const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` }, path: '/headers' });
const authn = (request: { headers: Record<string, string>; path: string; method?: string }, policies: RequestAuthentication[] = [LAB_RULE]) =>
  authenticateRequest(request, policies, httpbin, issuer.jwks, NOW);

describe('RequestAuthentication: the jwt_authn decision (istio/istio tests/integration/security jwt_test.go TestRequestAuthentication)', () => {
  it('"no-token-noauthz": a request without a token passes with no request principal', () => {
    expect(authn({ headers: {}, path: '/' })).toMatchObject({ kind: 'anonymous' });
  });

  it('"valid-token-noauthz": a valid token gives the principal <iss>/<sub> and strips the Authorization header', () => {
    const d = authn(bearer(token({ claims: { group: 'admins' } })));
    expect(d).toMatchObject({
      kind: 'authenticated',
      auth: { principal: 'testing@secure.istio.io/alice', claims: { group: 'admins' } },
      removeHeaders: ['authorization'],
    });
  });

  it('"valid-token-forward": forwardOriginalToken keeps the header; outputPayloadToHeader adds the payload', () => {
    const policy = ra({ jwtRules: [{ issuer: 'testing@secure.istio.io', forwardOriginalToken: true, outputPayloadToHeader: 'X-Test-Payload' }] });
    const t = token();
    const d = authn(bearer(t), [policy]);
    // the token stays; the payload header is always taken from the client (Envoy sanitizeHeaders), then set
    expect(d.kind === 'authenticated' && d.removeHeaders).toEqual(['x-test-payload']);
    expect(d.kind === 'authenticated' && d.addHeaders['x-test-payload']).toBe(t.split('.')[1]);
    expect(authn({ headers: { 'x-test-payload': 'forged' }, path: '/' }, [policy])).toMatchObject({
      kind: 'anonymous',
      removeHeaders: ['x-test-payload'],
    });
  });

  it('extractor.cc: the prefix may stand anywhere and the token is the rest from the first base64url character', () => {
    const t = token();
    expect(authn({ headers: { authorization: `Basic x, Bearer ${t}` }, path: '/' }).kind).toBe('authenticated');
    expect(authn({ headers: { authorization: `bearer ${t}` }, path: '/' }).kind).toBe('anonymous'); // case-sensitive
    expect(authn({ headers: { authorization: `Bearer ${t} trailing` }, path: '/' })).toMatchObject({ status: 401, body: JWT_STATUS.badFormat });
  });

  it('a verified token in a query parameter is removed from the forwarded path unless forwardOriginalToken', () => {
    const t = token();
    const d = authn({ headers: {}, path: `/x?a=1&access_token=${t}&b=2` });
    expect(d).toMatchObject({ kind: 'authenticated', removeParams: ['access_token'] });
    expect(withoutParams(`/x?a=1&access_token=${t}&b=2`, ['access_token'])).toBe('/x?a=1&b=2');
    expect(withoutParams(`/x?access_token=${t}`, ['access_token'])).toBe('/x');
  });

  it('"expired-token-noauthz": an expired token → 401 "Jwt is expired"', () => {
    expect(authn(bearer(token({ expired: true })))).toMatchObject({ kind: 'rejected', status: 401, body: JWT_STATUS.expired });
  });

  it('a forged signature under the right kid → 401 "Jwt verification fails"', () => {
    expect(authn(bearer(token({ signedBy: 'other' })))).toMatchObject({ kind: 'rejected', status: 401, body: 'Jwt verification fails' });
  });

  it('time is checked before the signature (Envoy authenticator.cc startVerify): expired and forged → "Jwt is expired"', () => {
    expect(authn(bearer(token({ signedBy: 'other', expired: true })))).toMatchObject({ body: JWT_STATUS.expired });
  });

  it('a token of an issuer no rule names → 401 "Jwt issuer is not configured" (envoyproxy/envoy#15167)', () => {
    expect(authn(bearer(issuer.mint({ issuer: 'someone-else', subject: 'x' }, NOW)))).toMatchObject({
      status: 401,
      body: 'Jwt issuer is not configured',
    });
  });

  it('before Istio 1.9 a token of an unknown issuer passed as if missing (allow_missing, envoyproxy/envoy#15167)', () => {
    const t = issuer.mint({ issuer: 'someone-else', subject: 'x' }, NOW);
    const old = authenticateRequest(bearer(t), [LAB_RULE], httpbin, issuer.jwks, NOW, { istioVersion: '1.8.6' });
    expect(old).toMatchObject({ kind: 'anonymous' });
    expect(authenticateRequest(bearer(t), [LAB_RULE], httpbin, issuer.jwks, NOW, { istioVersion: '1.9.0' })).toMatchObject({ status: 401 });
  });

  it('"expired-token-cors-preflight-request-allowed": a CORS preflight skips the check; without Origin it does not', () => {
    const expired = token({ expired: true });
    const preflight = { authorization: `Bearer ${expired}`, 'access-control-request-method': 'POST' };
    expect(authn({ headers: { ...preflight, origin: 'https://istio.io' }, path: '/', method: 'OPTIONS' }).kind).toBe('anonymous');
    expect(authn({ headers: preflight, path: '/', method: 'OPTIONS' })).toMatchObject({ status: 401 });
  });

  it('a bearer value that is not a JWT → 401', () => {
    expect(authn(bearer('not-a-jwt'))).toMatchObject({ status: 401, body: JWT_STATUS.badFormat });
  });

  it('"invalid-aud" → 403 (Envoy answers JwtAudienceNotAllowed with 403); "valid-aud" → ok; policies are combined', () => {
    // testdata/requestauthn/aud.yaml.tmpl: part1 has issuer-1 (aud foo) and issuer-2 (aud bar), part2 issuer-2 alone.
    const part1 = ra(
      {
        jwtRules: [
          { issuer: 'test-issuer-1@istio.io', audiences: ['foo'] },
          { issuer: 'test-issuer-2@istio.io', audiences: ['bar'] },
        ],
      },
      'foo',
      'part1',
    );
    const part2 = ra({ jwtRules: [{ issuer: 'test-issuer-2@istio.io' }] }, 'foo', 'part2');
    const t1 = issuer.mint({ issuer: 'test-issuer-1@istio.io', subject: 'sub-1' }, NOW);
    const t1aud = issuer.mint({ issuer: 'test-issuer-1@istio.io', subject: 'sub-1', audiences: ['foo'] }, NOW);
    const t2 = issuer.mint({ issuer: 'test-issuer-2@istio.io', subject: 'sub-2' }, NOW);
    expect(authn(bearer(t1), [part1, part2])).toMatchObject({ kind: 'rejected', status: 403, body: JWT_STATUS.audience });
    expect(authn(bearer(t1aud), [part1, part2])).toMatchObject({ kind: 'authenticated', auth: { audiences: ['foo'] } });
    expect(authn(bearer(t2), [part1, part2])).toMatchObject({ kind: 'authenticated' });
  });

  it('audiences compare without http(s):// and a trailing slash (jwt_verify_lib CheckAudience)', () => {
    const policy = ra({ jwtRules: [{ issuer: 'testing@secure.istio.io', audiences: ['https://api.example.com/'] }] });
    expect(authn(bearer(token({ audiences: ['api.example.com'] })), [policy]).kind).toBe('authenticated');
  });

  it('"headers-params": fromHeaders/fromParams replace the default locations', () => {
    // testdata/requestauthn/headers-params.yaml.tmpl
    const policy = ra({
      jwtRules: [
        {
          issuer: 'testing@secure.istio.io',
          fromHeaders: [
            { name: 'x-jwt-token', prefix: 'Bearer ' },
            { name: 'auth-token', prefix: 'Token ' },
          ],
          fromParams: ['token', 'secondary_token'],
        },
      ],
    });
    const t = token();
    expect(authn({ headers: {}, path: `/valid-token?token=${t}` }, [policy]).kind).toBe('authenticated');
    expect(authn({ headers: {}, path: `/valid-token?secondary_token=${t}` }, [policy]).kind).toBe('authenticated');
    // "invalid-params": another parameter is not read at all → no principal
    expect(authn({ headers: {}, path: `/valid-token?token_value=${t}` }, [policy]).kind).toBe('anonymous');
    // "invalid-token-set": every token must be valid
    expect(authn({ headers: {}, path: `/x?token=${t}&secondary_token=${token({ expired: true })}` }, [policy])).toMatchObject({ status: 401 });
    expect(authn({ headers: { 'auth-token': `Token ${t}` }, path: '/' }, [policy])).toMatchObject({ removeHeaders: ['auth-token'] });
    // "invalid-header": the default Authorization header is no longer read
    expect(authn(bearer(t), [policy]).kind).toBe('anonymous');
  });

  it('the default locations include the access_token query parameter', () => {
    expect(authn({ headers: {}, path: `/?access_token=${token()}` }).kind).toBe('authenticated');
  });

  it("an inline jwks is honoured: the target issuer's token does not verify against another key set", () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwks = JSON.stringify({ keys: [{ ...other.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256' }] });
    const policy = ra({ jwtRules: [{ issuer: 'testing@secure.istio.io', jwks }] });
    expect(authn(bearer(token()), [policy])).toMatchObject({ status: 401, body: JWT_STATUS.noKey });
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ iss: 'testing@secure.istio.io', sub: 'bob', exp: NOW + 60 })}`;
    const signed = `${input}.${sign('sha256', Buffer.from(input), other.privateKey).toString('base64url')}`;
    expect(authn(bearer(signed), [policy])).toMatchObject({ kind: 'authenticated', auth: { principal: 'testing@secure.istio.io/bob' } });
  });

  it('scope: a policy of another namespace or selecting another workload does not apply', () => {
    expect(authn(bearer('garbage'), [ra({ jwtRules: [{ issuer: 'x' }] }, 'bar')]).kind).toBe('anonymous');
    expect(authn(bearer('garbage'), [ra({ selector: { matchLabels: { app: 'other' } }, jwtRules: [{ issuer: 'x' }] })]).kind).toBe('anonymous');
    expect(authn(bearer('garbage'), [ra({ jwtRules: [{ issuer: 'x' }] }, 'istio-system')]).kind).toBe('rejected');
  });
});

describe('RequestAuthentication: parse and refuse', () => {
  it('refuses by name what the model does not evaluate', () => {
    const m = manifest('RequestAuthentication', 'foo', 'r', {
      jwtRules: [{ issuer: 'x', fromCookies: ['session'], outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }], timeout: '5s' }],
      targetRefs: [{ kind: 'Gateway', name: 'gw' }],
    });
    expect(unsupportedFields(m)).toEqual([
      'spec.jwtRules[0].fromCookies',
      'spec.jwtRules[0].outputClaimToHeaders',
      'spec.jwtRules[0].timeout',
      'spec.targetRefs',
    ]);
  });

  it('an issuer is required and an inline jwks must be a key set', () => {
    expect(parseResource(manifest('RequestAuthentication', 'foo', 'r', { jwtRules: [{ jwks: '{}' }] }))).toMatchObject({
      ok: false,
      kind: 'invalid',
    });
    const bad = parseResource(manifest('RequestAuthentication', 'foo', 'r', { jwtRules: [{ issuer: 'x', jwks: 'nope' }] }));
    expect(bad).toMatchObject({ ok: false, kind: 'invalid' });
    expect(!bad.ok && bad.error).toContain('spec.jwtRules[0].jwks');
  });
});

describe('AuthorizationPolicy with request principals and request.auth conditions (istio.io authz-jwt task; reference security/conditions)', () => {
  const alice: RequestAuth = {
    principal: 'testing@secure.istio.io/testing@secure.istio.io',
    audiences: ['app.example.com'],
    presenter: 'client-1',
    claims: { groups: ['group1', 'group2'], role: 'admin', nested: { key1: ['valueA', 'valueB'] }, n: 3 },
  };
  const request = (auth: RequestAuth | undefined, protocol: 'http' | 'tcp' = 'http'): AuthzRequest => ({
    destination: { ...httpbin, port: 8000 },
    source: { ip: '10.1.0.5' },
    protocol,
    ...(protocol === 'http' ? { http: { method: 'GET', path: '/headers', host: 'httpbin.foo', headers: {} } } : {}),
    ...(auth ? { auth } : {}),
  });
  const ap = (spec: object) => parsed('AuthorizationPolicy', 'foo', 'p', spec);
  const allowed = (auth: RequestAuth | undefined, spec: object, protocol: 'http' | 'tcp' = 'http') =>
    authorize(request(auth, protocol), [ap(spec)]).allowed;

  it('requestPrincipals: exact, prefix/suffix `*`, and `*` needs a principal (authz-jwt "require-jwt")', () => {
    const rp = (values: string[]) => ({ rules: [{ from: [{ source: { requestPrincipals: values } }] }] });
    expect(allowed(alice, rp(['testing@secure.istio.io/testing@secure.istio.io']))).toBe(true);
    expect(allowed(alice, rp(['testing@secure.istio.io/*']))).toBe(true);
    expect(allowed(alice, rp(['*/testing@secure.istio.io']))).toBe(true);
    expect(allowed(alice, rp(['other/*']))).toBe(false);
    expect(allowed(alice, rp(['*']))).toBe(true);
    expect(allowed(undefined, rp(['*']))).toBe(false);
  });

  it('notRequestPrincipals ["*"] in a DENY rule denies requests without a principal (authn-policy task "require a valid token")', () => {
    const deny = { action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }] };
    expect(allowed(undefined, deny)).toBe(false);
    expect(allowed(alice, deny)).toBe(true);
  });

  it('request.auth.claims: string and list-of-string claims (authz-jwt "list-typed claims"), nested since Istio 1.8', () => {
    const when = (key: string, values: string[]) => ({ rules: [{ when: [{ key, values }] }] });
    expect(allowed(alice, when('request.auth.claims[groups]', ['group1']))).toBe(true);
    expect(allowed(alice, when('request.auth.claims[groups]', ['group3']))).toBe(false);
    expect(allowed(alice, when('request.auth.claims[role]', ['adm*']))).toBe(true);
    expect(allowed(alice, when('request.auth.claims[nested][key1]', ['valueB']))).toBe(true);
    expect(allowed(alice, when('request.auth.claims[nested][key2]', ['valueB']))).toBe(false);
    expect(allowed(alice, when('request.auth.claims[n]', ['3']))).toBe(false); // not a string claim
    expect(allowed(undefined, when('request.auth.claims[groups]', ['group1']))).toBe(false);
    expect(allowed(alice, when('request.auth.principal', ['testing@secure.istio.io/*']))).toBe(true);
    expect(allowed(alice, when('request.auth.audiences', ['app.example.com']))).toBe(true);
    expect(allowed(alice, when('request.auth.presenter', ['client-1']))).toBe(true);
    expect(allowed(alice, when('request.auth.presenter', ['client-2']))).toBe(false);
  });

  it('on TCP the fields are HTTP-only: an ALLOW rule never matches, a DENY rule drops them (authz-tcp)', () => {
    expect(allowed(alice, { rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] }, 'tcp')).toBe(false);
    const deny = { action: 'DENY', rules: [{ when: [{ key: 'request.auth.claims[groups]', values: ['nope'] }] }] };
    expect(allowed(alice, deny, 'tcp')).toBe(false);
    expect(unsupportedFields(manifest('AuthorizationPolicy', 'foo', 'p', deny))).toEqual([]);
    expect(
      unsupportedFields(manifest('AuthorizationPolicy', 'foo', 'p', { rules: [{ when: [{ key: 'request.auth.claims[]', values: ['x'] }] }] })),
    ).toEqual(['spec.rules[0].when[0].key=request.auth.claims[]']);
  });
});

describe("withToken: where a probe's token travels", () => {
  const jwt = { issuer: 'lab', subject: 'alice' };
  type Http = { path?: string; headers?: Record<string, string>; jwt: Parameters<typeof withToken>[0]['jwt'] };
  const place = (http: Http) => withToken(http, issuer, NOW);
  it('default: Authorization: Bearer, verified by a rule without jwks', () => {
    const http = place({ path: '/x', headers: { a: 'b' }, jwt });
    expect(http).not.toHaveProperty('jwt');
    expect(http.headers?.['Authorization']).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const request = { headers: { authorization: http.headers?.['Authorization'] ?? '' }, path: '/x' };
    expect(authn(request, [ra({ jwtRules: [{ issuer: 'lab' }] })])).toMatchObject({ kind: 'authenticated', auth: { principal: 'lab/alice' } });
  });
  it('a named header with its prefix, a query parameter, or a raw request', () => {
    expect(place({ jwt: { ...jwt, header: 'x-jwt', prefix: 'Token ' } }).headers?.['x-jwt']).toMatch(/^Token /);
    expect(place({ path: '/a?b=1', jwt: { ...jwt, param: 'token' } }).path).toMatch(/^\/a\?b=1&token=[\w-]+\./);
    const raw = withToken({ raw: { requestTarget: '/r', headers: [['x', 'y']] as Array<[string, string]> }, jwt }, issuer, NOW).raw;
    expect(raw?.headers?.[1]?.[0]).toBe('Authorization');
  });
});
