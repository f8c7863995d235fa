/**
 * The matrix on the lab with real traffic (needs root): predictions agree with the data plane, and a wrong
 * prediction shows up as exactly one divergence carrying the engine's sentence. Also a small audit.
 */
import { expect, test } from '@jest/globals';
import { matrixFlows, predictMatrix } from '../../src/predict/matrix.js';
import { probeMatrix } from '../../src/predict/probe.js';
import { buildWorld } from '../../src/predict/world.js';
import { ensureAgentBundle } from '../targets/lab/helpers.js';
import { manifest } from './fixtures.js';
import { auditFindings, planAudit, predictAudit } from '../../src/predict/audit.js';
import type { Workload } from '../../src/scenario/schema.js';
import { describeAsRoot } from '../support/as-root.js';

const ports: Workload['ports'] = [
  { port: 8080, protocol: 'http' },
  { port: 9000, protocol: 'tcp' },
  { port: 5353, protocol: 'udp' },
];
const input = {
  namespaces: [
    { name: 'shop', sidecarInjection: true },
    { name: 'legacy', sidecarInjection: false },
  ],
  workloads: [
    { name: 'web', namespace: 'shop', ports },
    { name: 'db', namespace: 'shop', ports, annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '9000' } },
    { name: 'old', namespace: 'legacy', ports, runAsUser: 0, capabilities: ['NET_ADMIN' as const] },
  ],
  externals: [{ name: 'api.partner.test', ports: [{ port: 80, protocol: 'http' as const }] }],
  resources: [
    manifest('NetworkPolicy', 'shop', 'db-from-shop', {
      podSelector: { matchLabels: { app: 'db' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: {} }] }],
    }),
  ],
};

describeAsRoot('matrix on the lab', () => {
  test('every observation matches its prediction; a falsified prediction is one divergence', async () => {
    ensureAgentBundle();
    const { world, errors } = buildWorld(input);
    expect(errors).toEqual([]);
    const predicted = predictMatrix(world, matrixFlows(world, ['tcp', 'udp', 'http', 'icmp']));
    // db's 9000 is excluded inbound: shop/web's sidecar still sends mutual TLS (auto mTLS), the application
    // cannot read it — predicted blocked — while legacy/old's plaintext reaches the application directly.
    const mtlsToExcluded = predicted.cells.find((c) => c.flow.from === 'shop/web' && c.flow.to === 'shop/db' && c.flow.port === 9000);
    expect(mtlsToExcluded?.prediction).toMatchObject({ reach: false, failure: 'any' });
    const probeable = predicted;
    const victim = probeable.cells.find((c) => c.flow.from === 'legacy/old' && c.flow.to === 'shop/web' && c.flow.protocol === 'udp');
    if (!victim) throw new Error('fixture lacks the victim flow');
    const falsified = {
      ...probeable,
      cells: probeable.cells.map((c) => (c === victim ? { ...c, expected: { reach: false, failure: 'timeout' as const } } : c)),
    };
    const r = await probeMatrix(input, input.resources, falsified, { target: 'lab', name: 'matrix-it' });
    if (!r.ok) throw new Error(r.error);
    const bad = r.matrix.cells.filter((c) => c.status !== 'agree');
    expect(bad.map((c) => c.name)).toEqual([victim.name]);
    expect(bad[0].observed?.reason).toMatch(/expected the request to be blocked, but it reached/);
    // The blocked cells were observed blocked for real.
    const blocked = r.matrix.cells.filter((c) => !c.prediction.reach && c !== bad[0]);
    expect(blocked.length).toBeGreaterThan(0);
    expect(blocked.every((c) => c.observed?.facts?.reach === false)).toBe(true);
    expect(r.matrix.cells.find((c) => c.name === mtlsToExcluded?.name)?.status).toBe('agree');
    // mTLS between sidecars is observed (XFCC) where predicted.
    const mtls = r.matrix.cells.find((c) => c.flow.from === 'shop/db' && c.flow.to === 'shop/web' && c.flow.protocol === 'http');
    expect(mtls?.observed?.facts).toMatchObject({ reach: true, mtls: true, peer: 'spiffe://cluster.local/ns/shop/sa/db' });
  }, 60_000);
});

describeAsRoot('audit on the lab', () => {
  test('STRICT stops uid 1337 and flush-capture but not UDP: observed as predicted', async () => {
    ensureAgentBundle();
    // NET_ADMIN and a uid switch are effective only in a container running as uid 0 (kubernetes#56374).
    const workloads = input.workloads.map((w) =>
      w.name === 'db' || w.name === 'web' ? { ...w, runAsUser: 0, capabilities: ['NET_ADMIN' as const] } : w,
    );
    const strict = { ...input, workloads, resources: [manifest('PeerAuthentication', 'shop', 'default', { mtls: { mode: 'STRICT' } })] };
    const { world } = buildWorld(strict);
    const plan = planAudit(world);
    const r = await probeMatrix(strict, strict.resources, predictAudit(world, plan), { target: 'lab', name: 'audit-it' });
    if (!r.ok) throw new Error(r.error);
    expect(r.matrix.cells.filter((c) => c.status !== 'agree').map((c) => `${c.name}: ${c.observed?.reason}`)).toEqual([]);
    const findings = auditFindings(plan, r.matrix);
    const flush = findings.filter((f) => f.technique === 'flush-capture' && f.cell.flow.to === 'shop/web');
    expect(flush.length).toBeGreaterThan(0);
    expect(flush.every((f) => f.observedThrough === false)).toBe(true);
    expect(findings.find((f) => f.technique === 'udp' && f.cell.flow.from === 'legacy/old' && f.cell.flow.to === 'shop/web')).toMatchObject({
      observedThrough: true,
      bypass: true,
    });
  }, 60_000);
});
