/**
 * Planning: which scenarios run, which are SKIPPED (and why), which the target refuses, and how probes are
 * batched. Pure; it runs before anything is deployed, so a refusal or invalid input costs nothing.
 */
import semver from 'semver';
import type { Probe, Scenario, When } from '../scenario/schema.js';
import { allProbes, everyResource, probesWithSteps } from '../scenario/steps.js';
import { UnsupportedError, type TargetInfo, type TargetName } from '../targets/target.js';
import type { LoadedScenario } from './loader.js';

export interface Filters {
  include: RegExp[];
  exclude: RegExp[];
}

export interface Selection {
  scenario: Filters;
  tag: Filters;
}

/** Compiles `--scenario` / `--tag` patterns: unanchored regular expressions, a leading `!` excludes. */
export function compileFilters(option: string, patterns: readonly string[]): { filters: Filters; errors: string[] } {
  const filters: Filters = { include: [], exclude: [] };
  const errors: string[] = [];
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const source = negated ? pattern.slice(1) : pattern;
    try {
      (negated ? filters.exclude : filters.include).push(new RegExp(source));
    } catch (err) {
      errors.push(`${option} ${JSON.stringify(pattern)}: not a regular expression (${(err as Error).message})`);
    }
  }
  return { filters, errors };
}

function passes(filters: Filters, values: string[]): boolean {
  if (filters.exclude.some((re) => values.some((v) => re.test(v)))) return false;
  return filters.include.length === 0 || filters.include.some((re) => values.some((v) => re.test(v)));
}

/** Scenarios the filters select: name matches a --scenario pattern AND some tag matches a --tag pattern. */
export function select(loaded: LoadedScenario[], selection: Selection): LoadedScenario[] {
  return loaded.filter((l) => passes(selection.scenario, [l.scenario.metadata.name]) && passes(selection.tag, l.scenario.metadata.tags ?? []));
}

/** Input errors that the schema cannot see: `when.istio` must be a semver range. */
export function validateWhen(loaded: LoadedScenario[]): string[] {
  const errors: string[] = [];
  const check = (l: LoadedScenario, where: string, when: When | undefined) => {
    if (when?.istio !== undefined && semver.validRange(when.istio) === null) {
      errors.push(`${l.file}:${l.line}: ${where}.when.istio: ${JSON.stringify(when.istio)} is not a semver range (e.g. ">=1.13", "<1.21")`);
    }
  };
  for (const l of loaded) {
    check(l, `scenario ${l.scenario.metadata.name}: spec`, l.scenario.spec.when);
    for (const p of allProbes(l.scenario)) check(l, `scenario ${l.scenario.metadata.name}: probe ${p.name}`, p.when);
  }
  return errors;
}

/** Why a `when` does not hold on this target, or undefined when it holds. */
export function whenFails(when: When | undefined, info: Pick<TargetInfo, 'name' | 'istioVersion'>): string | undefined {
  if (when === undefined) return undefined;
  if (when.targets && !when.targets.includes(info.name)) {
    return `runs only on ${when.targets.join(', ')} (this run's target: ${info.name})`;
  }
  if (when.istio !== undefined) {
    const version = semver.coerce(info.istioVersion, { includePrerelease: true });
    if (version === null) return `needs Istio ${when.istio}, but the target's Istio version "${info.istioVersion}" is not a version`;
    if (!semver.satisfies(version, when.istio, { includePrerelease: true })) {
      return `needs Istio ${when.istio}; the target runs ${info.istioVersion}`;
    }
  }
  return undefined;
}

/** Probes that share one source pod, client uid and bypass: one call to target.probe per round. */
export interface Batch {
  key: string;
  from: string;
  user?: number;
  bypass?: Probe['bypass'];
  probes: Probe[];
}

export interface ProbePlan {
  probe: Probe;
  skip?: string;
  /** The step it belongs to, in a scenario with steps. */
  step?: string;
}

export type ScenarioPlan =
  | { kind: 'skip'; loaded: LoadedScenario; reason: string }
  | { kind: 'refused'; loaded: LoadedScenario; reason: string }
  | { kind: 'run'; loaded: LoadedScenario; probes: ProbePlan[]; batches: Batch[] };

export function batchKey(p: Probe): string {
  return `${p.from}|uid=${p.as?.user ?? '-'}|bypass=${p.bypass ?? '-'}`;
}

export function batches(probes: Probe[]): Batch[] {
  const byKey = new Map<string, Batch>();
  for (const p of probes) {
    const key = batchKey(p);
    let b = byKey.get(key);
    if (!b) {
      b = { key, from: p.from, probes: [] };
      if (p.as) b.user = p.as.user;
      if (p.bypass) b.bypass = p.bypass;
      byKey.set(key, b);
    }
    b.probes.push(p);
  }
  return [...byKey.values()];
}

function refusal(err: unknown, target: TargetName): string {
  if (err instanceof UnsupportedError) {
    return `the ${target} target cannot run this scenario: ${err.field}: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  }
  return `the ${target} target cannot run this scenario: ${err instanceof Error ? err.message : String(err)}`;
}

/** Plans one scenario on a prepared target. `check` is the target's own pre-deploy check. */
export function planScenario(loaded: LoadedScenario, info: Pick<TargetInfo, 'name' | 'istioVersion'>, check: (s: Scenario) => void): ScenarioPlan {
  const s = loaded.scenario;
  const skip = whenFails(s.spec.when, info);
  if (skip) return { kind: 'skip', loaded, reason: skip };
  try {
    // Every manifest any step applies must be honoured too: refuse before anything is deployed.
    check(s.spec.steps ? { ...s, spec: { ...s.spec, resources: everyResource(s), probes: allProbes(s) } } : s);
  } catch (err) {
    return { kind: 'refused', loaded, reason: refusal(err, info.name) };
  }
  const probes: ProbePlan[] = probesWithSteps(s).map(({ probe, step }) => {
    const why = whenFails(probe.when, info);
    return { probe, ...(why ? { skip: why } : {}), ...(step !== undefined ? { step } : {}) };
  });
  const runnable = probes.filter((p) => !p.skip).map((p) => p.probe);
  if (runnable.length === 0) return { kind: 'skip', loaded, reason: 'every probe is skipped on this target' };
  if (!runnable.some((p) => p.expect.reach)) {
    return {
      kind: 'skip',
      loaded,
      reason: 'every positive control (reach: true probe) is skipped on this target, so its denials would prove nothing',
    };
  }
  return { kind: 'run', loaded, probes, batches: batches(runnable) };
}
