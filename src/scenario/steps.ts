/**
 * `spec.steps` (scenario-v1-additions): the rules the loader enforces on them, and the views the engine and the
 * targets need. Rules: steps exclude top-level probes; every step with probes has its own positive control;
 * `delete` names something applied earlier in the scenario (and not deleted since); probe names are unique across
 * the scenario; step names are unique.
 */
import type { Probe, Resource, ResourceRef, Scenario, Step } from './schema.js';
import type { PathSegment, RuleIssue } from './rules.js';

/** The identity of a manifest: kind, namespace and name (apiVersion may change between versions of one kind). */
export function resourceKey(r: Resource | ResourceRef): string {
  const ns = 'metadata' in r ? r.metadata.namespace : r.namespace;
  const name = 'metadata' in r ? r.metadata.name : r.name;
  return `${r.kind} ${ns ?? ''}/${name}`;
}

/** Every probe of the scenario with the step it belongs to (undefined: a scenario without steps). */
export function probesWithSteps(s: Scenario): Array<{ probe: Probe; step?: string; at: PathSegment[] }> {
  if (!s.spec.steps) return s.spec.probes.map((probe, i) => ({ probe, at: ['spec', 'probes', i] }));
  return s.spec.steps.flatMap((st, i) =>
    st.probes.map((probe, j) => ({ probe, step: st.name, at: ['spec', 'steps', i, 'probes', j] as PathSegment[] })),
  );
}

export function allProbes(s: Scenario): Probe[] {
  return probesWithSteps(s).map((p) => p.probe);
}

/** The manifests in force after each step: applied ones replace a manifest of the same key, deleted ones leave. */
export function resourcesAfter(s: Scenario, steps: readonly Step[]): Resource[] {
  const live = new Map(s.spec.resources.map((r) => [resourceKey(r), r]));
  for (const st of steps) {
    for (const d of st.delete) live.delete(resourceKey(d));
    for (const r of st.apply) live.set(resourceKey(r), r);
  }
  return [...live.values()];
}

/** Every manifest the scenario ever applies (what a target must be able to honour before anything is deployed). */
export function everyResource(s: Scenario): Resource[] {
  return [...s.spec.resources, ...(s.spec.steps ?? []).flatMap((st) => st.apply)];
}

export function checkSteps(s: Scenario, checkProbe: (p: Probe, at: PathSegment[]) => RuleIssue[]): RuleIssue[] {
  const out: RuleIssue[] = [];
  if (!s.spec.steps) {
    if (s.spec.probes.length === 0) out.push({ path: ['spec', 'probes'], message: 'must list at least 1 item' });
    return out;
  }
  if (s.spec.probes.length > 0) {
    out.push({ path: ['spec', 'probes'], at: 'key', message: 'steps exclude top-level probes: move these probes into a step' });
  }
  const live = new Set(s.spec.resources.map(resourceKey));
  const stepNames = new Map<string, number>();
  const probeNames = new Map<string, string>();
  s.spec.steps.forEach((st, i) => {
    const at: PathSegment[] = ['spec', 'steps', i];
    const first = stepNames.get(st.name);
    if (first !== undefined) out.push({ path: [...at, 'name'], message: `duplicate step "${st.name}" (first declared at index ${first})` });
    else stepNames.set(st.name, i);
    st.delete.forEach((d, j) => {
      const key = resourceKey(d);
      if (!live.has(key)) {
        out.push({
          path: [...at, 'delete', j],
          message: `${key} is not applied earlier in the scenario (in force before this step: ${[...live].join(', ') || 'nothing'})`,
        });
      }
      live.delete(key);
    });
    for (const r of st.apply) live.add(resourceKey(r));
    st.probes.forEach((p, j) => {
      const where = `step ${st.name}`;
      const seen = probeNames.get(p.name);
      if (seen)
        out.push({
          path: [...at, 'probes', j, 'name'],
          message: `duplicate probe "${p.name}" (also in ${seen}): probe names are unique across the scenario`,
        });
      else probeNames.set(p.name, where);
      out.push(...checkProbe(p, [...at, 'probes', j]));
    });
    if (st.probes.length > 0 && !st.probes.some((p) => p.expect.reach)) {
      out.push({ path: [...at, 'probes'], message: `no positive control in step ${st.name}: at least one of its probes must expect reach: true` });
    }
    if (st.apply.length === 0 && st.delete.length === 0 && st.probes.length === 0) {
      out.push({ path: at, message: `step ${st.name} applies, deletes and probes nothing` });
    }
  });
  return out;
}
