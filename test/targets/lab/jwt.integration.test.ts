/**
 * RequestAuthentication in the lab's sidecar with real traffic (needs root), after istio/istio
 * tests/integration/security/jwt_test.go TestRequestAuthentication ("valid-token-noauthz", "expired-token",
 * "no-token", "invalid-aud", "valid-params", "valid-header") and the istio.io authn-policy / authz-jwt tasks
 * (requestPrincipals ALLOW, notRequestPrincipals DENY, `request.auth.claims[groups]`): the probe carries a token
 * of the run's issuer (`http.jwt`), the sidecar verifies it before authorization; and the predictor agrees with
 * every probe.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import { flowOf } from '../../../src/predict/expectation.js';
import { predict } from '../../../src/predict/predict.js';
import { buildWorld } from '../../../src/predict/world.js';
import { makeScenario } from './helpers.js';
import { authz, deployedLab, seen, server } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

const ra = (namespace: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'RequestAuthentication',
  metadata: { name, namespace },
  spec,
});

/** A key set of some other issuer: a rule with it inline verifies none of the run's tokens. */
const OTHER_JWKS = JSON.stringify({
  keys: [{ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'other', alg: 'RS256' }],
});

describeAsRoot('jwt (on the lab, as root)', () => {
  const sel = (app: string) => ({ selector: { matchLabels: { app } } });
  const ISS = 'testing@secure.istio.io';
  const alice = { issuer: ISS, subject: 'alice', claims: { groups: ['group1', 'group2'] } };
  const probe = (name: string, to: string, http: Record<string, unknown>, reach: boolean, port = 8080, protocol: 'http' | 'tcp' = 'http') => ({
    name,
    from: 'app/client',
    to: `shop/${to}`,
    port,
    protocol,
    ...(protocol === 'http' ? { http } : {}),
    expect: { reach },
  });
  const scenario = makeScenario('jwt', {
    namespaces: [{ name: 'app' }, { name: 'shop' }],
    workloads: [
      { name: 'client', namespace: 'app' },
      ...['authn', 'authz', 'claims', 'deny', 'aud', 'params', 'inline'].map((n) => server(n, 'shop')),
    ],
    resources: [
      ra('shop', 'authn', { ...sel('authn'), jwtRules: [{ issuer: ISS, forwardOriginalToken: false, outputPayloadToHeader: 'x-test-payload' }] }),
      ra('shop', 'authz', { ...sel('authz'), jwtRules: [{ issuer: ISS }] }),
      authz('shop', 'authz', { ...sel('authz'), rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/*`] } }] }] }),
      ra('shop', 'claims', { ...sel('claims'), jwtRules: [{ issuer: ISS }] }),
      authz('shop', 'claims', { ...sel('claims'), rules: [{ when: [{ key: 'request.auth.claims[groups]', values: ['group1'] }] }] }),
      ra('shop', 'deny', { ...sel('deny'), jwtRules: [{ issuer: ISS }] }),
      authz('shop', 'deny', { ...sel('deny'), action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }] }),
      ra('shop', 'aud', { ...sel('aud'), jwtRules: [{ issuer: ISS, audiences: ['foo'] }] }),
      ra('shop', 'inline', { ...sel('inline'), jwtRules: [{ issuer: ISS, jwks: OTHER_JWKS }] }),
      ra('shop', 'params', {
        ...sel('params'),
        jwtRules: [{ issuer: ISS, fromHeaders: [{ name: 'x-jwt-token', prefix: 'Token ' }], fromParams: ['token'] }],
      }),
    ],
    probes: [
      probe('no-token-noauthz', 'authn', { headers: { 'x-test-payload': 'forged' } }, true),
      probe('valid-token-noauthz', 'authn', { jwt: alice }, true),
      probe('expired-token-noauthz', 'authn', { jwt: { ...alice, expired: true } }, false),
      probe('forged-token-noauthz', 'authn', { jwt: { ...alice, signedBy: 'other' } }, false),
      probe('unknown-issuer', 'authn', { jwt: { issuer: 'someone-else', subject: 'x' } }, false),
      probe(
        'expired-token-cors-preflight',
        'authn',
        { method: 'OPTIONS', headers: { origin: 'https://istio.io', 'access-control-request-method': 'POST' }, jwt: { ...alice, expired: true } },
        true,
      ),
      probe(
        'expired-token-bad-cors-preflight',
        'authn',
        { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' }, jwt: { ...alice, expired: true } },
        false,
      ),
      probe('valid-token', 'authz', { jwt: alice }, true),
      probe('no-token', 'authz', {}, false),
      probe('expired-token', 'authz', { jwt: { ...alice, expired: true } }, false),
      probe('tcp-allow-request-principal', 'authz', {}, false, 9000, 'tcp'),
      probe('claims-group1', 'claims', { jwt: alice }, true),
      probe('claims-group3', 'claims', { jwt: { ...alice, claims: { groups: ['group3'] } } }, false),
      probe('deny-no-token', 'deny', {}, false),
      probe('deny-with-token', 'deny', { jwt: alice }, true),
      probe('invalid-aud', 'aud', { jwt: alice }, false),
      probe('valid-aud', 'aud', { jwt: { ...alice, audiences: ['foo'] } }, true),
      probe('inline-jwks', 'inline', { jwt: alice }, false),
      probe('valid-params', 'params', { jwt: { ...alice, param: 'token' } }, true),
      probe('valid-header', 'params', { jwt: { ...alice, header: 'x-jwt-token', prefix: 'Token ' } }, true),
      probe('invalid-header', 'params', { jwt: { ...alice, header: 'x-other', prefix: 'Token ' } }, true),
      probe('invalid-params', 'params', { jwt: { ...alice, param: 'token', expired: true } }, false),
    ],
  });

  const lab = deployedLab(scenario);
  const r = (name: string) => seen(lab.ran.results.get(name));
  const arrived = (name: string) => lab.ran.results.get(name)?.arrived[0]?.http;
  const rejected = (status: number, body: string) => ({ reached: false, outcome: `http-${status}`, body, server: 'istio-envoy' });
  const RBAC = { reached: false, outcome: 'http-403', body: 'RBAC: access denied' };

  describe('authentication only', () => {
    test('"no-token-noauthz" and "valid-token-noauthz" reach the application', () => {
      expect(r('no-token-noauthz')).toMatchObject({ reached: true, outcome: 'ok' });
      expect(r('valid-token-noauthz')).toMatchObject({ reached: true, outcome: 'ok' });
    });
    test('the verified token is removed (forwardOriginalToken false) and its payload is forwarded in x-test-payload', () => {
      const headers = arrived('valid-token-noauthz')?.headers ?? {};
      expect(headers['authorization']).toBeUndefined();
      const payload = JSON.parse(Buffer.from(headers['x-test-payload'] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      expect(payload).toMatchObject({ iss: 'testing@secure.istio.io', sub: 'alice', groups: ['group1', 'group2'] });
    });
    test('a client cannot set the payload header: the sidecar drops it (Envoy sanitizeHeaders)', () => {
      expect(arrived('no-token-noauthz')?.headers['x-test-payload']).toBeUndefined();
    });
    test('a verified token in a query parameter is removed from the path the application receives', () => {
      expect(arrived('valid-params')?.path).toBe('/');
    });
    test('"expired-token-noauthz" → 401 "Jwt is expired"; a forged signature → 401 "Jwt verification fails"', () => {
      expect(r('expired-token-noauthz')).toMatchObject(rejected(401, 'Jwt is expired'));
      expect(r('forged-token-noauthz')).toMatchObject(rejected(401, 'Jwt verification fails'));
      expect(r('unknown-issuer')).toMatchObject(rejected(401, 'Jwt issuer is not configured'));
    });
    test('"expired-token-cors-preflight-request-allowed": a CORS preflight is not checked; without Origin it is', () => {
      expect(r('expired-token-cors-preflight').reached).toBe(true);
      expect(r('expired-token-bad-cors-preflight')).toMatchObject(rejected(401, 'Jwt is expired'));
    });
    test("an inline jwks is honoured: the run's token finds no key there (401)", () => {
      expect(r('inline-jwks')).toMatchObject(rejected(401, "Jwks doesn't have key to match kid or alg from Jwt"));
    });
    test('"invalid-aud" → 403 "Audiences in Jwt are not allowed"; "valid-aud" reaches', () => {
      expect(r('invalid-aud')).toMatchObject(rejected(403, 'Audiences in Jwt are not allowed'));
      expect(r('valid-aud').reached).toBe(true);
    });
    test('"valid-params" / "valid-header": fromParams and fromHeaders; another header is not read at all', () => {
      expect(r('valid-params').reached).toBe(true);
      expect(r('valid-header').reached).toBe(true);
      expect(arrived('valid-header')?.headers['x-jwt-token']).toBeUndefined();
      expect(arrived('invalid-header')?.headers['x-other']).toMatch(/^Token /);
      expect(r('invalid-params')).toMatchObject(rejected(401, 'Jwt is expired'));
    });
  });

  describe('with AuthorizationPolicy', () => {
    test('requestPrincipals ALLOW: a valid token reaches, none gets 403 from RBAC, an expired one 401 before RBAC', () => {
      expect(r('valid-token').reached).toBe(true);
      expect(r('no-token')).toMatchObject(RBAC);
      expect(r('expired-token')).toMatchObject(rejected(401, 'Jwt is expired'));
    });
    test('on TCP the ALLOW rule with requestPrincipals never matches: the connection is closed', () => {
      expect(r('tcp-allow-request-principal').reached).toBe(false);
      expect(['reset', 'eof']).toContain(r('tcp-allow-request-principal').outcome);
    });
    test('request.auth.claims[groups] (list-typed claim)', () => {
      expect(r('claims-group1').reached).toBe(true);
      expect(r('claims-group3')).toMatchObject(RBAC);
    });
    test('DENY notRequestPrincipals ["*"]: no token is denied, a valid token reaches', () => {
      expect(r('deny-no-token')).toMatchObject(RBAC);
      expect(r('deny-with-token').reached).toBe(true);
    });
    test('the decision log names the principal and the rejection', () => {
      const log = lab.ran.d.pods.get('shop/authz')?.sidecarLog?.() ?? '';
      expect(log).toContain('JWT verified: request principal testing@secure.istio.io/alice');
      expect(log).toMatch(/ rejected \| .*JWT rejected with 401 \\"Jwt is expired\\"/);
    });
  });

  test('the predictor agrees with every probe (reach and failure class)', () => {
    const { world, errors } = buildWorld(scenario.spec);
    expect(errors).toEqual([]);
    for (const p of scenario.spec.probes) {
      const prediction = predict(world, flowOf(p));
      const s = r(p.name);
      const observed = { reach: s.reached, failure: s.reached ? undefined : s.outcome?.startsWith('http-') ? s.outcome : 'reset' };
      const predicted = { reach: prediction.reach, failure: prediction.reach ? undefined : prediction.failure };
      expect([p.name, predicted]).toEqual([p.name, observed]);
      expect([p.name, p.expect.reach]).toEqual([p.name, s.reached]);
    }
  });
});
