import { describe, expect, it } from '@jest/globals';
import { auditFindings, planAudit, predictAudit, type AuditFinding } from '../../src/predict/audit.js';
import type { Workload } from '../../src/scenario/schema.js';
import { manifest, workloads as base, world } from './fixtures.js';

const STRICT_FOO = manifest('PeerAuthentication', 'foo', 'default', { mtls: { mode: 'STRICT' } });
// Added capabilities and a uid switch are only effective for a container running as uid 0 (kubernetes#56374).
const withAdmin: Workload[] = base.map((w) =>
  w.namespace === 'bar' && w.name === 'sleep' ? { ...w, runAsUser: 0, capabilities: ['NET_ADMIN'] } : w,
);

function audit(resources: ReturnType<typeof manifest>[], workloads = withAdmin) {
  const w = world({ resources, workloads });
  const plan = planAudit(w);
  return { plan, findings: auditFindings(plan, predictAudit(w, plan)) };
}

const find = (fs: AuditFinding[], from: string, to: string, technique: string, port?: number) =>
  fs.find(
    (f) => f.cell.flow.from === from && f.cell.flow.to === to && f.technique === technique && (port === undefined || f.cell.flow.port === port),
  );

describe('planAudit: protected destinations and techniques', () => {
  it('only workloads a policy protects are audited, each with what protects it', () => {
    const { plan } = audit([
      STRICT_FOO,
      manifest('NetworkPolicy', 'bar', 'deny', { podSelector: { matchLabels: { app: 'httpbin' } }, policyTypes: ['Ingress'] }),
    ]);
    expect(plan.protections.map((p) => p.destination).sort()).toEqual(['bar/httpbin', 'foo/httpbin', 'foo/tcp-echo']); // foo/sleep listens on nothing
    expect(plan.protections.find((p) => p.destination === 'foo/tcp-echo')?.by).toEqual([
      'PeerAuthentication STRICT on 9000',
      'PeerAuthentication STRICT on 9001',
      'PeerAuthentication STRICT on 9002',
    ]);
    expect(plan.protections.find((p) => p.destination === 'bar/httpbin')).toMatchObject({
      istio: false,
      by: ['NetworkPolicy ingress isolation (bar/deny)'],
    });
  });

  it('every technique the source can use: plaintext without a sidecar, uid 1337 and flush (NET_ADMIN) only as uid 0, udp, icmp', () => {
    // foo/sleep runs as the image's uid 1000 with NET_ADMIN added: it can neither switch uid nor flush.
    const ws = withAdmin.map((w) => (w.namespace === 'foo' && w.name === 'sleep' ? { ...w, capabilities: ['NET_ADMIN' as const] } : w));
    const { plan } = audit([STRICT_FOO], ws);
    const to = (from: string) =>
      plan.flows
        .map((f, i) => ({ f, t: plan.techniques[i] }))
        .filter(({ f }) => f.from === from && f.to === 'foo/tcp-echo')
        .map(({ t }) => t);
    expect(to('legacy/sleep')).toEqual(['plaintext', 'plaintext', 'udp', 'icmp']);
    expect(to('foo/sleep')).toEqual(['baseline', 'baseline', 'udp', 'icmp']);
    expect(to('bar/sleep')).toEqual(['baseline', 'uid-1337', 'flush-capture', 'baseline', 'uid-1337', 'flush-capture', 'udp', 'icmp']);
  });
});

describe('auditFindings (best-practices "Understand traffic capture limitations")', () => {
  it('under STRICT, uid 1337 and flush-capture are reset (no bypass) but UDP reaches the application around the sidecar', () => {
    const { findings } = audit([STRICT_FOO]);
    expect(find(findings, 'bar/sleep', 'foo/httpbin', 'uid-1337')).toMatchObject({ predictedThrough: false, bypass: false });
    expect(find(findings, 'bar/sleep', 'foo/httpbin', 'flush-capture')).toMatchObject({ predictedThrough: false, bypass: false });
    expect(find(findings, 'bar/sleep', 'foo/tcp-echo', 'udp')).toMatchObject({ predictedThrough: true, bypass: true });
    expect(find(findings, 'bar/sleep', 'foo/httpbin', 'baseline')).toMatchObject({ predictedThrough: true, bypass: false });
  });

  it('an excluded inbound port is a bypass of STRICT; NetworkPolicy closes it and UDP with it', () => {
    const ws = withAdmin.map((w) =>
      w.namespace === 'foo' && w.name === 'httpbin' ? { ...w, annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '8000' } } : w,
    );
    const open = audit([STRICT_FOO], ws).findings;
    expect(find(open, 'legacy/sleep', 'foo/httpbin', 'excluded-inbound-port')).toMatchObject({ predictedThrough: true, bypass: true });
    const np = manifest('NetworkPolicy', 'foo', 'mesh-only', {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'istio-injection': 'enabled' } } }], ports: [{ port: 8000 }, { port: 9000 }] }],
    });
    const closed = audit([STRICT_FOO, np], ws).findings;
    expect(find(closed, 'legacy/sleep', 'foo/httpbin', 'excluded-inbound-port')).toMatchObject({ predictedThrough: false, bypass: false });
    expect(find(closed, 'bar/sleep', 'foo/tcp-echo', 'udp')).toMatchObject({ predictedThrough: false, bypass: false });
  });

  it('uid 1337 is a bypass of an AuthorizationPolicy that excludes by identity: plaintext has none to exclude', () => {
    const allowBar = manifest('AuthorizationPolicy', 'foo', 'from-bar', {
      selector: { matchLabels: { app: 'httpbin' } },
      rules: [{ from: [{ source: { notNamespaces: ['bar'] } }] }],
    });
    const { findings } = audit([allowBar]);
    // PERMISSIVE: uid 1337 goes plaintext, has no identity, so notNamespaces [bar] does not exclude it: it gets in
    // although the baseline from bar (with its identity) is denied.
    expect(find(findings, 'bar/sleep', 'foo/httpbin', 'baseline')).toMatchObject({ predictedThrough: false });
    expect(find(findings, 'bar/sleep', 'foo/httpbin', 'uid-1337')).toMatchObject({ predictedThrough: true, bypass: true });
  });
});
