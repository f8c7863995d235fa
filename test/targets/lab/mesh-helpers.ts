/** Shared by the lab's sidecar integration tests: deploy a scenario, run every probe once, index results by name. */
import { afterAll, beforeAll, expect } from '@jest/globals';
import type { LabDeployment } from '../../../src/targets/lab/deploy.js';
import { LabTarget } from '../../../src/targets/lab/index.js';
import type { Scenario } from '../../../src/scenario/schema.js';
import type { AttemptResult } from '../../../src/targets/target.js';
import { attempts, ensureAgentBundle, labLeftovers } from './helpers.js';

export interface Ran {
  target: LabTarget;
  d: LabDeployment;
  results: Map<string, AttemptResult>;
}

export async function deployAndProbe(scenario: Scenario): Promise<Ran> {
  ensureAgentBundle();
  const target = new LabTarget();
  await target.prepare();
  const d = (await target.deploy(scenario)) as LabDeployment;
  const bySource = new Map<string, ReturnType<typeof attempts>>();
  for (const a of attempts(scenario)) bySource.set(a.probe.from, [...(bySource.get(a.probe.from) ?? []), a]);
  const out = (await Promise.all([...bySource.values()].map((b) => target.probe(d, b)))).flat();
  return { target, d, results: new Map(out.map((r) => [r.probeName, r])) };
}

/**
 * Deploys `scenario` once for the test file (beforeAll) and tears it down afterwards, checking that nothing of the
 * lab is left (afterAll). `lab.ran` is the deployment and its results, available inside the tests.
 */
export function deployedLab(scenario: Scenario): { readonly ran: Ran } {
  let ran: Ran | undefined;
  beforeAll(async () => {
    ran = await deployAndProbe(scenario);
  }, 60_000);
  afterAll(async () => {
    const id = ran?.d.labId;
    await ran?.target.teardown();
    if (id) expect(labLeftovers(id)).toEqual([]);
  });
  return {
    get ran(): Ran {
      if (!ran) throw new Error(`the lab for ${scenario.metadata.name} was not deployed (see the beforeAll error)`);
      return ran;
    },
  };
}

/** What a reader of a report would check: did it arrive, how did the client end, which peer did the app see. */
export function seen(r: AttemptResult | undefined) {
  const o = r?.client.outcome;
  return {
    reached: (r?.arrived.length ?? 0) > 0,
    outcome: o?.kind === 'http' ? `http-${o.status}` : o?.kind,
    peer: r?.arrived[0]?.peer?.identity,
    basis: r?.arrived[0]?.peer?.basis,
    body: o?.kind === 'http' ? o.body : undefined,
    server: o?.kind === 'http' ? o.server : undefined,
  };
}

/** The sidecar's answer to a request an AuthorizationPolicy denied. */
export const DENIED_HTTP = { reached: false, outcome: 'http-403', body: 'RBAC: access denied', server: 'istio-envoy' };

/** What a deployed lab's probe saw, by name, and the check for a connection the sidecar closed (FIN or RST). */
export function observations(lab: { readonly ran: Ran }) {
  const r = (name: string) => seen(lab.ran.results.get(name));
  const closed = (name: string) => {
    expect(r(name).reached).toBe(false);
    expect(['reset', 'eof']).toContain(r(name).outcome);
  };
  return { r, closed };
}

export const pa = (namespace: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name, namespace },
  spec,
});
export const authz = (namespace: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace },
  spec,
});
export const server = (name: string, namespace: string, labels?: Record<string, string>) => ({
  name,
  namespace,
  ...(labels ? { labels } : {}),
  ports: [
    { port: 8080, protocol: 'http' as const },
    { port: 9000, protocol: 'tcp' as const },
  ],
});
