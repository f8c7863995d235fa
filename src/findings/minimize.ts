/**
 * The smallest scenario the model says still decides a probe the same way (pure). It keeps the probe, one positive
 * control, the workloads and externals those two name, and of the manifests only those the predictor's explanation
 * of either probe names, or whose removal changes its decision for either ("the model says decided that probe"). Workloads are kept in their
 * original order; when dropping the others would change a prediction (the lab's addresses follow declaration
 * order, so an ipBlock may depend on them) every workload is kept instead. The result is verified by running it;
 * this only proposes it.
 */
import { flowOf } from '../predict/expectation.js';
import { predict } from '../predict/predict.js';
import type { Prediction } from '../predict/types.js';
import { buildWorld, type WorldInput } from '../predict/world.js';
import type { Probe, Resource, Scenario } from '../scenario/schema.js';

export interface Minimized {
  readonly scenario: Scenario;
  /** The probe under study and the positive control kept next to it (the same probe when it is its own control). */
  readonly probe: Probe;
  readonly control: Probe;
  /** The prediction for the probe in the minimal scenario; undefined when the model cannot read the scenario. */
  readonly prediction?: Prediction;
  /** Why each dropped manifest was dropped, and anything the minimisation could not do. */
  readonly notes: readonly string[];
}

const refOf = (r: Resource) => `${r.kind} ${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}`;

/** The outcome a person compares: reach and how it ended (not the wording of the explanation). */
function decision(p: Prediction): string {
  return p.reach
    ? JSON.stringify({ reach: true, mtls: p.mtls, peer: p.peer, viaSidecar: p.viaSidecar, status: p.status })
    : JSON.stringify({ reach: false, failure: p.failure });
}

function inputOf(s: Scenario, resources: readonly Resource[] = s.spec.resources): WorldInput {
  return {
    namespaces: s.spec.namespaces,
    workloads: s.spec.workloads,
    externals: s.spec.externals,
    resources,
    ...(s.spec.mesh ? { mesh: s.spec.mesh } : {}),
  };
}

/** The decisions for the given probes, or undefined when the model cannot read the scenario. */
function decisions(s: Scenario, probes: readonly Probe[], resources?: readonly Resource[]): string[] | undefined {
  const built = buildWorld(inputOf(s, resources));
  if (built.errors.length > 0) return undefined;
  try {
    return probes.map((p) => decision(predict(built.world, flowOf(p))));
  } catch {
    return undefined;
  }
}

/** A positive control: the original's, preferring one between the same two endpoints, then to the same destination. */
export function chooseControl(s: Scenario, probe: Probe): Probe {
  const positives = s.spec.probes.filter((p) => p.expect.reach && p.name !== probe.name);
  const score = (p: Probe) => (p.from === probe.from && p.to === probe.to ? 0 : p.to === probe.to ? 1 : p.from === probe.from ? 2 : 3);
  const best = [...positives].sort((a, b) => score(a) - score(b))[0];
  return best ?? probe;
}

function withParts(
  s: Scenario,
  keep: { workloads: Set<string>; externals: Set<string> },
  resources: readonly Resource[],
  probes: Probe[],
  name: string,
): Scenario {
  const workloads = s.spec.workloads.filter((w) => keep.workloads.has(`${w.namespace}/${w.name}`));
  const nsUsed = new Set([...workloads.map((w) => w.namespace), ...resources.map((r) => r.metadata.namespace).filter((n): n is string => !!n)]);
  return {
    ...s,
    metadata: { ...s.metadata, name },
    spec: {
      ...s.spec,
      namespaces: s.spec.namespaces.filter((n) => nsUsed.has(n.name)),
      workloads,
      externals: s.spec.externals.filter((e) => keep.externals.has(e.name)),
      resources: [...resources],
      probes,
    },
  };
}

export function minimalName(scenario: string, probe: string): string {
  return `${scenario}-${probe}`.slice(0, 63).replace(/-+$/, '');
}

function explanationText(s: Scenario, probes: readonly Probe[]): string {
  const built = buildWorld(inputOf(s));
  try {
    return probes.flatMap((p) => predict(built.world, flowOf(p)).explanation.map((r) => r.text)).join('\n');
  } catch {
    return '';
  }
}

export function minimize(s: Scenario, probeName: string): Minimized {
  const probe = s.spec.probes.find((p) => p.name === probeName);
  if (!probe) throw new Error(`scenario ${s.metadata.name} has no probe "${probeName}" (probes: ${s.spec.probes.map((p) => p.name).join(', ')})`);
  const control = chooseControl(s, probe);
  const probes = control === probe ? [probe] : [probe, control];
  const name = minimalName(s.metadata.name, probe.name);
  const notes: string[] = [];
  const original = decisions(s, probes);
  const endpoints = new Set(probes.flatMap((p) => [p.from, p.to]));
  const few = {
    workloads: new Set([...endpoints].filter((e) => e.includes('/'))),
    externals: new Set([...endpoints].filter((e) => !e.includes('/'))),
  };
  if (!original) {
    notes.push('the model cannot read this scenario: every manifest and workload is kept, nothing was minimised by prediction');
    const all = {
      workloads: new Set(s.spec.workloads.map((w) => `${w.namespace}/${w.name}`)),
      externals: new Set(s.spec.externals.map((e) => e.name)),
    };
    return { scenario: withParts(s, all, s.spec.resources, probes, name), probe, control, notes };
  }
  let keep = few;
  let candidate = withParts(s, keep, s.spec.resources, probes, name);
  if (JSON.stringify(decisions(candidate, probes)) !== JSON.stringify(original)) {
    notes.push('dropping the other workloads changes the prediction (addresses follow declaration order): every workload is kept');
    keep = { ...few, workloads: new Set(s.spec.workloads.map((w) => `${w.namespace}/${w.name}`)) };
    candidate = withParts(s, keep, s.spec.resources, probes, name);
  }
  const named = explanationText(s, probes);
  let resources = [...s.spec.resources];
  for (const r of s.spec.resources) {
    // A policy the explanation names stays even when the decision does not depend on it: a bypass is precisely a
    // request the policy was meant to stop and did not, so the finding must show that policy.
    if (r.metadata.namespace && named.includes(`${r.kind} ${r.metadata.namespace}/${r.metadata.name}`)) continue;
    const without = resources.filter((x) => x !== r);
    const trial = withParts(s, keep, without, probes, name);
    if (JSON.stringify(decisions(trial, probes)) === JSON.stringify(original)) {
      resources = without;
      notes.push(`${refOf(r)} dropped: the model decides both probes the same without it`);
    }
  }
  const minimal = withParts(s, keep, resources, probes, name);
  const built = buildWorld(inputOf(minimal));
  const prediction = predict(built.world, flowOf(probe));
  return { scenario: minimal, probe, control, prediction, notes };
}

/** A rough size for "smaller than the original": workloads + externals + manifests + probes. */
export function sizeOf(s: Scenario): number {
  return s.spec.workloads.length + s.spec.externals.length + s.spec.resources.length + s.spec.probes.length;
}
