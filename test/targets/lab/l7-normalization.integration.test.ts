/**
 * meshConfig.pathNormalization in the lab with real traffic (needs root), one lab per option: what the application
 * receives (the normalised path is forwarded), TestAuthz_PathNormalization (istio/istio
 * tests/integration/security/authz_test.go: ALLOW paths ["/public*"] methods ["GET"]), Envoy's 400/426 refusals,
 * duplicate headers joined with "," for `request.headers` conditions; and the predictor agrees with every probe.
 * Requests are sent with http.raw so no client library touches them on the way.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../../../src/model/index.js';
import { flowOf } from '../../../src/predict/expectation.js';
import { predict } from '../../../src/predict/predict.js';
import { buildWorld } from '../../../src/predict/world.js';
import type { Probe } from '../../../src/scenario/schema.js';
import { attempts, makeScenario } from './helpers.js';
import { authz, deployedLab, seen, server } from './mesh-helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('l7-normalization (on the lab, as root)', () => {
  const sel = (app: string) => ({ selector: { matchLabels: { app } } });

  /** Inputs and what the application receives under each option (TestNormalization's expectations; 400 = refused). */
  const RECEIVED: ReadonlyArray<readonly [string, Record<PathNormalization, string>]> = [
    ['/app/../admin', { NONE: '/app/../admin', BASE: '/admin', MERGE_SLASHES: '/admin', DECODE_AND_MERGE_SLASHES: '/admin' }],
    ['/app//', { NONE: '/app//', BASE: '/app//', MERGE_SLASHES: '/app/', DECODE_AND_MERGE_SLASHES: '/app/' }],
    ['/app/%2f', { NONE: '/app/%2f', BASE: '/app/%2f', MERGE_SLASHES: '/app/%2f', DECODE_AND_MERGE_SLASHES: '/app/' }],
    ['/xyz%30..//abc', { NONE: '/xyz%30..//abc', BASE: '/xyz0..//abc', MERGE_SLASHES: '/xyz0../abc', DECODE_AND_MERGE_SLASHES: '/xyz0../abc' }],
    ['/app\\admin', { NONE: '/app\\admin', BASE: '/app/admin', MERGE_SLASHES: '/app/admin', DECODE_AND_MERGE_SLASHES: '/app/admin' }],
    [
      '/%2Fapp%5cadmin%5Cabc',
      {
        NONE: '/%2Fapp%5cadmin%5Cabc',
        BASE: '/%2Fapp%5cadmin%5Cabc',
        MERGE_SLASHES: '/%2Fapp%5cadmin%5Cabc',
        DECODE_AND_MERGE_SLASHES: '/app/admin/abc',
      },
    ],
    ['/a/%2e%2e/b?q=/../x', { NONE: '/a/%2e%2e/b?q=/../x', BASE: '/b?q=/../x', MERGE_SLASHES: '/b?q=/../x', DECODE_AND_MERGE_SLASHES: '/b?q=/../x' }],
    ['/admin%00', { NONE: '/admin%00', BASE: '400', MERGE_SLASHES: '400', DECODE_AND_MERGE_SLASHES: '400' }],
  ];

  /** TestAuthz_PathNormalization's cases (BASE), plus the ones the other options decide differently. */
  const AUTHZ: ReadonlyArray<readonly [string, Record<PathNormalization, boolean>]> = [
    ['/public', { NONE: true, BASE: true, MERGE_SLASHES: true, DECODE_AND_MERGE_SLASHES: true }],
    ['/public/../public', { NONE: true, BASE: true, MERGE_SLASHES: true, DECODE_AND_MERGE_SLASHES: true }],
    ['/private', { NONE: false, BASE: false, MERGE_SLASHES: false, DECODE_AND_MERGE_SLASHES: false }],
    ['/public/../private', { NONE: true, BASE: false, MERGE_SLASHES: false, DECODE_AND_MERGE_SLASHES: false }],
    ['/public/./../private', { NONE: true, BASE: false, MERGE_SLASHES: false, DECODE_AND_MERGE_SLASHES: false }],
    ['/public/%2E%2E/private', { NONE: true, BASE: false, MERGE_SLASHES: false, DECODE_AND_MERGE_SLASHES: false }],
    ['/public/%2e/%2e%2e/private', { NONE: true, BASE: false, MERGE_SLASHES: false, DECODE_AND_MERGE_SLASHES: false }],
    ['/public%2f..%2fprivate', { NONE: true, BASE: true, MERGE_SLASHES: true, DECODE_AND_MERGE_SLASHES: false }],
  ];

  const raw = (requestTarget: string, extra: object = {}) => ({ raw: { method: 'GET', requestTarget, ...extra } });

  function scenarioFor(option: PathNormalization) {
    const probes: object[] = [
      { name: 'control', from: 'app/client', to: 'app/echo', port: 8080, protocol: 'http', expect: { reach: true } },
      ...RECEIVED.map(([target], i) => ({
        name: `recv-${i}`,
        from: 'app/client',
        to: 'app/echo',
        port: 8080,
        protocol: 'http',
        http: raw(target),
        expect: { reach: true },
      })),
      ...AUTHZ.map(([target], i) => ({
        name: `authz-${i}`,
        from: 'app/client',
        to: 'app/b',
        port: 8080,
        protocol: 'http',
        http: raw(target),
        expect: { reach: true },
      })),
      {
        name: 'lower-method',
        from: 'app/client',
        to: 'app/echo',
        port: 8080,
        protocol: 'http',
        http: { raw: { method: 'get', requestTarget: '/' } },
        expect: { reach: false },
      },
      {
        name: 'custom-method',
        from: 'app/client',
        to: 'app/echo',
        port: 8080,
        protocol: 'http',
        http: { raw: { method: 'QUERY', requestTarget: '/' } },
        expect: { reach: false },
      },
      {
        name: 'http10',
        from: 'app/client',
        to: 'app/echo',
        port: 8080,
        protocol: 'http',
        http: { raw: { method: 'GET', requestTarget: '/', version: '1.0' } },
        expect: { reach: false },
      },
      {
        name: 'dup-header',
        from: 'app/client',
        to: 'app/hdr',
        port: 8080,
        protocol: 'http',
        http: raw('/', {
          headers: [
            ['X-Team', 'a'],
            ['x-team', 'b'],
          ],
        }),
        expect: { reach: false },
      },
      {
        name: 'one-header',
        from: 'app/client',
        to: 'app/hdr',
        port: 8080,
        protocol: 'http',
        http: raw('/', { headers: [['X-TEAM', 'a']] }),
        expect: { reach: true },
      },
      {
        name: 'absolute-form',
        from: 'app/client',
        to: 'app/echo',
        port: 8080,
        protocol: 'http',
        http: raw('http://echo.app:8080/x/../y?z=1'),
        expect: { reach: true },
      },
    ];
    return makeScenario(`l7-${option.toLowerCase().replace(/_/g, '-')}`, {
      mesh: { pathNormalization: option },
      namespaces: [{ name: 'app' }],
      workloads: [{ name: 'client', namespace: 'app' }, server('echo', 'app'), server('b', 'app'), server('hdr', 'app')],
      resources: [
        authz('app', 'b', { ...sel('b'), rules: [{ to: [{ operation: { paths: ['/public*'], methods: ['GET'] } }] }] }),
        // normalization reference "Duplicate headers": x-team: a and x-team: b match as "a,b".
        authz('app', 'hdr', { ...sel('hdr'), action: 'DENY', rules: [{ when: [{ key: 'request.headers[X-Team]', values: ['a,b'] }] }] }),
      ],
      probes: probes as Probe[],
    });
  }

  for (const option of PATH_NORMALIZATIONS) {
    describe(`pathNormalization ${option} on the lab`, () => {
      const scenario = scenarioFor(option);
      const lab = deployedLab(scenario);
      const r = (name: string) => lab.ran.results.get(name);
      // No case here expects a timeout: one is the machine's load, not a decision, so it is asked again (twice at most).
      beforeAll(async () => {
        for (let round = 0; round < 2; round++) {
          const slow = [...lab.ran.results.values()].filter((x) => x.client.outcome.kind === 'timeout').map((x) => x.probeName);
          if (slow.length === 0) return;
          const again = await lab.ran.target.probe(lab.ran.d, attempts(scenario, slow));
          for (const x of again) lab.ran.results.set(x.probeName, x);
        }
      }, 60_000);

      test('the application receives the path as normalised (or the sidecar answers 400), exactly as TestNormalization expects', () => {
        RECEIVED.forEach(([target, expected], i) => {
          const res = r(`recv-${i}`);
          const got =
            expected[option] === '400'
              ? res?.client.outcome.kind === 'http'
                ? String(res.client.outcome.status)
                : res?.client.outcome.kind
              : res?.arrived[0]?.http?.path;
          expect([target, got]).toEqual([target, expected[option]]);
          if (expected[option] !== '400') expect(res?.arrived[0]?.http?.requestLine).toBe(`GET ${expected[option]} HTTP/1.1`);
        });
      });

      test('TestAuthz_PathNormalization: ALLOW /public* decides on the normalised path', () => {
        AUTHZ.forEach(([target, allowed], i) => {
          const s = seen(r(`authz-${i}`));
          expect([target, s.reached, s.outcome]).toEqual([target, allowed[option], allowed[option] ? 'ok' : 'http-403']);
        });
      });

      test('Envoy refuses a lower-case or unknown method (400) and HTTP/1.0 (426) before any policy', () => {
        expect(seen(r('lower-method'))).toMatchObject({ reached: false, outcome: 'http-400', server: 'istio-envoy' });
        expect(seen(r('custom-method'))).toMatchObject({ reached: false, outcome: 'http-400', server: 'istio-envoy' });
        expect(seen(r('http10'))).toMatchObject({ reached: false, outcome: 'http-426', server: 'istio-envoy' });
      });

      test('header names case-insensitive, duplicates joined with "," for request.headers conditions', () => {
        expect(seen(r('dup-header'))).toMatchObject({ reached: false, outcome: 'http-403' });
        expect(seen(r('one-header'))).toMatchObject({ reached: true, outcome: 'ok' });
      });

      test('absolute-form: the application receives the origin-form path, Host from the URL', () => {
        const seenBy = r('absolute-form')?.arrived[0]?.http;
        expect(seenBy?.path).toBe(option === 'NONE' ? '/x/../y?z=1' : '/y?z=1');
        expect(seenBy?.headers.host).toBe('echo.app:8080');
      });

      test('the predictor agrees with every probe (reach, and 403 vs refusal)', () => {
        const { world, errors } = buildWorld(scenario.spec);
        expect(errors).toEqual([]);
        for (const probe of scenario.spec.probes) {
          const p = predict(world, flowOf(probe));
          const res = r(probe.name);
          const o = res?.client.outcome;
          const observed = { reach: (res?.arrived.length ?? 0) > 0, failure: o?.kind === 'http' && o.status === 403 ? 'http-403' : undefined };
          const predicted = { reach: p.reach, failure: !p.reach && p.failure === 'http-403' ? 'http-403' : undefined };
          expect([probe.name, predicted]).toEqual([probe.name, observed]);
        }
      });
    });
  }
});
