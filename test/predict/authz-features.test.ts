/**
 * The predictor on AuthorizationPolicy serviceAccounts, destination.ip, connection.sni, remote.ip from
 * X-Forwarded-For and path templates: the same decisions as the model, with the inputs the predictor derives
 * (identity from the service account, SNI from the destination's service, headers from the probe); and fields newer
 * than the target's Istio named as errors. The lab agreement is in test/targets/lab/authz-features.integration.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { buildWorld } from '../../src/predict/index.js';
import { externals, flow, manifest, namespaces, run, workloads, world } from './fixtures.js';

const ap = (name: string, spec: object) => manifest('AuthorizationPolicy', 'foo', name, { selector: { matchLabels: { app: 'httpbin' } }, ...spec });

describe('predict: AuthorizationPolicy features', () => {
  it('serviceAccounts: the sleep of bar gets in over mTLS; the sleep of foo and plaintext do not', () => {
    const w = world({ resources: [ap('sa', { rules: [{ from: [{ source: { serviceAccounts: ['bar/sleep'] } }] }] })] });
    expect(run(w, flow('bar/sleep', 'foo/httpbin', 8000)).reach).toBe(true);
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000))).toMatchObject({ reach: false, failure: 'http-403' });
    expect(run(w, flow('legacy/sleep', 'foo/httpbin', 8000)).reach).toBe(false);
  });

  it('connection.sni is outbound_.PORT_._.<service FQDN> over mTLS, absent in plaintext', () => {
    const w = world({
      resources: [ap('sni', { rules: [{ when: [{ key: 'connection.sni', values: ['outbound_.8000_._.httpbin.foo.svc.cluster.local'] }] }] })],
    });
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000)).reach).toBe(true);
    expect(run(w, flow('legacy/sleep', 'foo/httpbin', 8000)).reach).toBe(false);
  });

  it('destination.ip is the destination workload address', () => {
    const w = world({ resources: [ap('ip', { rules: [{ when: [{ key: 'destination.ip', notValues: ['0.0.0.0/0'] }] }] })] });
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000)).reach).toBe(false);
  });

  it('remoteIpBlocks: the rightmost X-Forwarded-For of the probe', () => {
    const w = world({ resources: [ap('xff', { rules: [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }] }] })] });
    const headers = (v: string) => ({ http: { headers: { 'x-forwarded-for': v } } });
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000, 'http', headers('198.51.100.1, 203.0.113.9'))).reach).toBe(true);
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000, 'http', headers('203.0.113.9, 198.51.100.1'))).reach).toBe(false);
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000)).reach).toBe(false);
  });

  it('path templates on the normalised path', () => {
    const w = world({ resources: [ap('tmpl', { rules: [{ to: [{ operation: { paths: ['/store/{**}/cart'] } }] }] })] });
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000, 'http', { http: { path: '/store/a/b/cart' } })).reach).toBe(true);
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000, 'http', { http: { path: '/store/cart' } })).reach).toBe(false);
    const raw = { method: 'GET', requestTarget: '/store/x/../cart', version: '1.1' as const };
    expect(run(w, flow('foo/sleep', 'foo/httpbin', 8000, 'http', { http: { raw } })).reach).toBe(false);
  });

  it("fields newer than the target's Istio are errors naming the version", () => {
    const resources = [ap('sa', { rules: [{ from: [{ source: { serviceAccounts: ['sleep'] } }], to: [{ operation: { paths: ['/a/{*}'] } }] }] })];
    const input = { namespaces, workloads, externals, resources };
    expect(buildWorld(input, { istioVersion: '1.25.1' }).errors).toEqual([]);
    expect(buildWorld(input, { istioVersion: '1.24.2' }).errors).toEqual([
      'AuthorizationPolicy foo/sa: spec.rules[0].from[0].source.serviceAccounts (needs Istio 1.25+, the target runs 1.24.2)',
    ]);
    expect(buildWorld(input, { istioVersion: '1.21.0' }).errors).toHaveLength(2);
  });
});
