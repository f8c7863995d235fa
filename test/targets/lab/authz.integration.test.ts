/**
 * AuthorizationPolicy in the lab's sidecar with real traffic: ALLOW by namespace and by principal, DENY before
 * ALLOW, allow-nothing, HTTP path/method rules, and HTTP-only fields on a TCP port (ALLOW: the rule never matches;
 * DENY: the fields are ignored and the rule gets broader). Needs root.
 */
import { describe, expect, test } from '@jest/globals';
import { makeScenario } from './helpers.js';
import { authz, DENIED_HTTP, deployedLab, observations, server } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('authz (on the lab, as root)', () => {
  const sel = (app: string) => ({ selector: { matchLabels: { app } } });
  const scenario = makeScenario('authz', {
    namespaces: [{ name: 'app' }, { name: 'other' }, { name: 'legacy', sidecarInjection: false }, { name: 'shop' }],
    workloads: [
      { name: 'client', namespace: 'app' },
      { name: 'client', namespace: 'other' },
      { name: 'client', namespace: 'legacy' },
      ...['web', 'byprincipal', 'api', 'locked', 'methods', 'tcpallow', 'tcpdeny'].map((n) => server(n, 'shop')),
    ],
    resources: [
      authz('shop', 'web', { ...sel('web'), action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['app'] } }] }] }),
      authz('shop', 'web-audit', { ...sel('web'), action: 'AUDIT', rules: [{ from: [{ source: { namespaces: ['other'] } }] }] }),
      authz('shop', 'byprincipal', { ...sel('byprincipal'), rules: [{ from: [{ source: { principals: ['cluster.local/ns/other/sa/client'] } }] }] }),
      authz('shop', 'api-allow', { ...sel('api'), action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['app'] } }] }] }),
      authz('shop', 'api-deny', { ...sel('api'), action: 'DENY', rules: [{ to: [{ operation: { paths: ['/secret'] } }] }] }),
      // allow-nothing: an ALLOW policy without rules (here narrowed to one workload; `spec: {}` is the namespace-wide form).
      authz('shop', 'locked', sel('locked')),
      authz('shop', 'methods', { ...sel('methods'), rules: [{ to: [{ operation: { methods: ['GET'], paths: ['/public/*'] } }] }] }),
      authz('shop', 'tcpallow', { ...sel('tcpallow'), action: 'ALLOW', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }),
      authz('shop', 'tcpdeny', {
        ...sel('tcpdeny'),
        action: 'DENY',
        rules: [{ from: [{ source: { namespaces: ['app'] } }], to: [{ operation: { methods: ['POST'] } }] }],
      }),
    ],
    probes: [
      { name: 'ns-allowed', from: 'app/client', to: 'shop/web', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'ns-other', from: 'other/client', to: 'shop/web', port: 8080, protocol: 'http', expect: { reach: false } },
      { name: 'ns-plaintext', from: 'legacy/client', to: 'shop/web', port: 8080, protocol: 'http', expect: { reach: false } },
      { name: 'ns-other-tcp', from: 'other/client', to: 'shop/web', port: 9000, protocol: 'tcp', expect: { reach: false } },
      { name: 'principal-allowed', from: 'other/client', to: 'shop/byprincipal', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'principal-other', from: 'app/client', to: 'shop/byprincipal', port: 8080, protocol: 'http', expect: { reach: false } },
      { name: 'deny-wins', from: 'app/client', to: 'shop/api', port: 8080, protocol: 'http', http: { path: '/secret' }, expect: { reach: false } },
      {
        name: 'deny-elsewhere',
        from: 'app/client',
        to: 'shop/api',
        port: 8080,
        protocol: 'http',
        http: { path: '/public' },
        expect: { reach: true },
      },
      { name: 'allow-nothing', from: 'app/client', to: 'shop/locked', port: 8080, protocol: 'http', expect: { reach: false } },
      { name: 'allow-nothing-tcp', from: 'app/client', to: 'shop/locked', port: 9000, protocol: 'tcp', expect: { reach: false } },
      {
        name: 'get-public',
        from: 'app/client',
        to: 'shop/methods',
        port: 8080,
        protocol: 'http',
        http: { path: '/public/x' },
        expect: { reach: true },
      },
      {
        name: 'post-public',
        from: 'app/client',
        to: 'shop/methods',
        port: 8080,
        protocol: 'http',
        http: { method: 'POST', path: '/public/x' },
        expect: { reach: false },
      },
      {
        name: 'get-private',
        from: 'app/client',
        to: 'shop/methods',
        port: 8080,
        protocol: 'http',
        http: { path: '/private' },
        expect: { reach: false },
      },
      { name: 'http-only-allow-http', from: 'app/client', to: 'shop/tcpallow', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'http-only-allow-tcp', from: 'app/client', to: 'shop/tcpallow', port: 9000, protocol: 'tcp', expect: { reach: false } },
      { name: 'http-only-deny-http', from: 'app/client', to: 'shop/tcpdeny', port: 8080, protocol: 'http', expect: { reach: true } },
      { name: 'http-only-deny-tcp', from: 'app/client', to: 'shop/tcpdeny', port: 9000, protocol: 'tcp', expect: { reach: false } },
      { name: 'http-only-deny-tcp-other', from: 'other/client', to: 'shop/tcpdeny', port: 9000, protocol: 'tcp', expect: { reach: true } },
    ],
  });

  const lab = deployedLab(scenario);
  const { r, closed } = observations(lab);

  describe('ALLOW', () => {
    test('by namespace: app gets in; another namespace and a plaintext client get 403 from the sidecar', () => {
      expect(r('ns-allowed')).toMatchObject({ reached: true, outcome: 'ok' });
      expect(r('ns-other')).toMatchObject(DENIED_HTTP);
      expect(r('ns-plaintext')).toMatchObject(DENIED_HTTP);
    });
    test('TCP deny closes the accepted connection', () => closed('ns-other-tcp'));
    test('by principal', () => {
      expect(r('principal-allowed').reached).toBe(true);
      expect(r('principal-other')).toMatchObject(DENIED_HTTP);
    });
    test('allow-nothing (no rules) denies everything, HTTP and TCP', () => {
      expect(r('allow-nothing')).toMatchObject(DENIED_HTTP);
      closed('allow-nothing-tcp');
    });
    test('HTTP path and method rules', () => {
      expect(r('get-public').reached).toBe(true);
      expect(r('post-public')).toMatchObject(DENIED_HTTP);
      expect(r('get-private')).toMatchObject(DENIED_HTTP);
    });
  });

  describe('AUDIT', () => {
    test('a matching AUDIT rule is logged and changes nothing; the log names the rule that decided', () => {
      expect(r('ns-other')).toMatchObject(DENIED_HTTP);
      const lines = (lab.ran.d.pods.get('shop/web')?.sidecarLog?.() ?? '').split('\n');
      const other = lines.find((l) => l.includes(' denied | ') && l.includes('"audited":["AuthorizationPolicy shop/web-audit rule 0"]'));
      expect(other).toMatch(/denied: ALLOW policies apply \(AuthorizationPolicy shop\/web\) but none matches/);
      expect(
        lines.some((l) => l.includes(' allowed | ') && l.includes('"policy":"AuthorizationPolicy shop/web rule 0"') && !l.includes('audited')),
      ).toBe(true);
    });
  });

  describe('DENY', () => {
    test('DENY is evaluated first: a request both policies match is denied', () => {
      expect(r('deny-wins')).toMatchObject(DENIED_HTTP);
      expect(r('deny-elsewhere').reached).toBe(true);
    });
  });

  describe('HTTP-only fields on a TCP port', () => {
    test('in ALLOW the rule never matches on TCP (denied) while HTTP GET is allowed', () => {
      expect(r('http-only-allow-http').reached).toBe(true);
      closed('http-only-allow-tcp');
    });
    test('in DENY the HTTP-only field is ignored on TCP, so the DENY gets broader; HTTP GET is not denied', () => {
      expect(r('http-only-deny-http').reached).toBe(true);
      closed('http-only-deny-tcp');
      expect(r('http-only-deny-tcp-other').reached).toBe(true);
    });
    test('the decision log names the policy and the ignored field', () => {
      const log = lab.ran.d.pods.get('shop/tcpdeny')?.sidecarLog?.() ?? '';
      expect(log).toMatch(
        /inbound .*:9000 denied \| .*denied by AuthorizationPolicy shop\/tcpdeny rule 0 \(HTTP-only to\[0\]\.operation\.methods ignored on TCP\)/,
      );
    });
  });
});
