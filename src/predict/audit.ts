/**
 * The bypass audit (pure): for every destination a policy protects, every known way around Istio's enforcement,
 * tried from every source — the techniques of istio.io's security best practices ("Understand traffic capture
 * limitations", "Egress traffic") and docs/istio-facts.md:
 *   baseline               the source's ordinary traffic (through its sidecar when it has one)
 *   plaintext              from a workload without a sidecar (no identity, no mTLS)
 *   uid-1337               the client process runs as the proxy's uid: its own sidecar does not capture it
 *                          (only from a container running as uid 0: another uid cannot switch)
 *   flush-capture          the client has NET_ADMIN in effect (added, and running as uid 0) and flushes
 *                          its pod's nat table
 *   excluded-outbound-port the client's excludeOutboundPorts covers the port
 *   excluded-inbound-port  the server's sidecar does not capture the port (application reached directly)
 *   udp / icmp             never captured by the sidecar; only NetworkPolicy can stop them
 * A technique GETS THROUGH when the prediction (and, probed, the observation) is that the request reached the
 * application; it is a BYPASS when it gets through although the same source's baseline to that port is blocked,
 * or when it reaches a destination protected by Istio policy without passing its sidecar.
 */
import { canFlushCapture, canRunAs } from '../model/capabilities.js';
import { effectiveMtls, formatRef, policyApplies, refOf } from '../model/index.js';
import { matchesSelector } from '../model/network-policy.js';
import { serviceFqdn, SIDECAR_UID } from '../model/mesh.js';
import { l7Attempts, type L7Technique } from './audit-l7.js';
import { inboundCapture } from './capture.js';
import { predictMatrix, type Matrix, type MatrixCell } from './matrix.js';
import type { Flow, WorkloadInfo, World } from './types.js';

export type Technique =
  | 'baseline'
  | 'plaintext'
  | 'uid-1337'
  | 'flush-capture'
  | 'excluded-outbound-port'
  | 'excluded-inbound-port'
  | 'udp'
  | 'icmp'
  | L7Technique;

export interface Protection {
  readonly destination: string;
  /** What protects it: "PeerAuthentication STRICT on 8080", "AuthorizationPolicy pay/allow-shop", "NetworkPolicy ingress isolation". */
  readonly by: readonly string[];
  /** Istio policy (not only NetworkPolicy) protects it: reaching the application without its sidecar skips it. */
  readonly istio: boolean;
}

export interface AuditPlan {
  readonly protections: readonly Protection[];
  readonly flows: readonly Flow[];
  readonly techniques: readonly Technique[];
  /** L7 attempts (audit-l7.ts): what the variant is, and the index of its canonical request; parallel to flows. */
  readonly l7: ReadonlyArray<{ readonly variant: string; readonly canonical?: number } | undefined>;
}

export interface AuditFinding {
  readonly cell: MatrixCell;
  readonly technique: Technique;
  readonly predictedThrough: boolean;
  /** undefined until probed (or when the probe produced no observation). */
  readonly observedThrough?: boolean;
  readonly bypass: boolean;
  /** L7 techniques: the request variant, e.g. "double slash: //admin". */
  readonly variant?: string;
}

/** What protects a workload, or undefined when nothing does. */
export function protectionOf(world: World, dst: WorkloadInfo): Protection | undefined {
  const by: string[] = [];
  let istio = false;
  if (dst.sidecar) {
    for (const p of dst.ports) {
      const m = effectiveMtls({ namespace: dst.namespace, labels: dst.labels, port: p.port }, world.istio.peerAuthentications);
      if (m.mode === 'STRICT') by.push(`PeerAuthentication STRICT on ${p.port}`);
    }
    for (const ap of world.istio.authorizationPolicies) {
      if (policyApplies(ap, { namespace: dst.namespace, labels: dst.labels, port: 0 }))
        by.push(`AuthorizationPolicy ${formatRef(refOf(ap)).replace('AuthorizationPolicy ', '')} (${ap.action})`);
    }
    istio = by.length > 0;
  }
  const isolating = world.networkPolicies.filter(
    (np) => np.namespace === dst.namespace && np.policyTypes.includes('Ingress') && matchesSelector(np.podSelector, { ...dst.labels }),
  );
  if (isolating.length > 0) by.push(`NetworkPolicy ingress isolation (${isolating.map((np) => `${np.namespace}/${np.name}`).join(', ')})`);
  return by.length > 0 ? { destination: dst.key, by, istio } : undefined;
}

const isStream = (p: string) => p === 'tcp' || p === 'http' || p === 'https';

function techniquesFor(world: World, src: WorkloadInfo, dst: WorkloadInfo): Array<{ flow: Flow; technique: Technique }> {
  const out: Array<{ flow: Flow; technique: Technique }> = [];
  const excludedOut = new Set(
    src.capture.excludeOutboundPorts
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  for (const p of dst.ports) {
    const base: Flow = { from: src.key, to: dst.key, port: p.port, protocol: p.protocol };
    if (p.protocol === 'udp') {
      out.push({ flow: base, technique: 'udp' });
      continue;
    }
    const inbound = inboundCapture({
      sidecar: dst.sidecar,
      capture: dst.capture,
      protocol: p.protocol,
      port: p.port,
      ...(world.istioVersion ? { istioVersion: world.istioVersion } : {}),
    });
    const plainTechnique: Technique = !src.sidecar ? 'plaintext' : excludedOut.has(String(p.port)) ? 'excluded-outbound-port' : 'baseline';
    out.push({ flow: base, technique: dst.sidecar && !inbound.captured ? 'excluded-inbound-port' : plainTechnique });
    if (src.sidecar && isStream(p.protocol)) {
      // Only what the application can really do: another uid and NET_ADMIN need a container running as uid 0.
      if (canRunAs(src, SIDECAR_UID)) out.push({ flow: { ...base, asUser: SIDECAR_UID }, technique: 'uid-1337' });
      if (canFlushCapture(src)) out.push({ flow: { ...base, bypass: 'flush-capture' }, technique: 'flush-capture' });
    }
  }
  out.push({ flow: { from: src.key, to: dst.key, protocol: 'icmp' }, technique: 'icmp' });
  return out;
}

/**
 * L7 variants against each HTTP port of a sidecar-protected destination, from one source with a sidecar (the
 * first declared): the variants test the destination's normalisation and policy, which do not depend on who asks.
 */
function l7For(world: World, dst: WorkloadInfo, out: { flows: Flow[]; techniques: Technique[]; l7: AuditPlan['l7'][number][] }): void {
  const src = world.workloads.find((w) => w.sidecar && w.key !== dst.key);
  if (!dst.sidecar || !src) return;
  const policies = world.istio.authorizationPolicies.filter((ap) => policyApplies(ap, { namespace: dst.namespace, labels: dst.labels, port: 0 }));
  for (const p of dst.ports.filter((x) => x.protocol === 'http')) {
    const offset = out.flows.length;
    for (const a of l7Attempts({ from: src.key, to: dst.key, port: p.port, host: serviceFqdn(dst.name, dst.namespace) }, policies)) {
      out.flows.push(a.flow);
      out.techniques.push(a.technique);
      out.l7.push({ variant: a.variant, ...(a.canonical !== undefined ? { canonical: offset + a.canonical } : {}) });
    }
  }
}

export function planAudit(world: World): AuditPlan {
  const protections: Protection[] = [];
  const flows: Flow[] = [];
  const techniques: Technique[] = [];
  const l7: AuditPlan['l7'][number][] = [];
  for (const dst of world.workloads) {
    const protection = protectionOf(world, dst);
    if (!protection) continue;
    protections.push(protection);
    for (const src of world.workloads) {
      if (src.key === dst.key) continue;
      for (const t of techniquesFor(world, src, dst)) {
        flows.push(t.flow);
        techniques.push(t.technique);
        l7.push(undefined);
      }
    }
    l7For(world, dst, { flows, techniques, l7 });
  }
  return { protections, flows, techniques, l7 };
}

export function predictAudit(world: World, plan: AuditPlan): Matrix {
  return predictMatrix(world, plan.flows);
}

const sameTarget = (a: Flow, b: Flow) => a.from === b.from && a.to === b.to && a.port === b.port && a.protocol === b.protocol;

/** Reads the (probed or predicted) audit matrix into findings; `matrix.cells[i]` belongs to `plan.techniques[i]`. */
export function auditFindings(plan: AuditPlan, matrix: Matrix): AuditFinding[] {
  const istioProtected = new Set(plan.protections.filter((p) => p.istio).map((p) => p.destination));
  const baselineBlocked = (c: MatrixCell) =>
    matrix.cells.some((b, i) => ['baseline', 'plaintext'].includes(plan.techniques[i]) && sameTarget(b.flow, c.flow) && !b.prediction.reach);
  const reached = (c: MatrixCell) => (c.observed?.facts ? c.observed.facts.reach : c.prediction.reach);
  return matrix.cells.map((cell, i) => {
    const technique = plan.techniques[i];
    const through = cell.prediction.reach;
    const observed = cell.observed?.facts ? cell.observed.facts.reach : undefined;
    const l7 = plan.l7[i];
    const found = {
      cell,
      technique,
      predictedThrough: through,
      ...(observed !== undefined ? { observedThrough: observed } : {}),
      ...(l7 ? { variant: l7.variant } : {}),
    };
    if (l7) {
      // observed when probed, else predicted: a variant through while its canonical request is blocked
      const canonical = l7.canonical !== undefined ? matrix.cells[l7.canonical] : undefined;
      return { ...found, bypass: canonical !== undefined && reached(cell) && !reached(canonical) };
    }
    const skipsSidecar = through && cell.prediction.viaSidecar === false && istioProtected.has(cell.flow.to);
    const bypass = technique !== 'baseline' && through && (baselineBlocked(cell) || skipsSidecar);
    return { ...found, bypass };
  });
}
