/** Scenario builders and lab checks shared by the lab's integration tests. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { scenario as scenarioSchema, type Scenario, type ScenarioInput } from '../../../src/scenario/schema.js';
import type { ProbeAttempt } from '../../../src/targets/target.js';

type Spec = ScenarioInput['spec'];

export function makeScenario(name: string, spec: Partial<Spec> & Pick<Spec, 'workloads' | 'probes'>): Scenario {
  return scenarioSchema.parse({
    apiVersion: 'meshprobe.io/v1',
    kind: 'Scenario',
    metadata: { name },
    spec: { namespaces: [{ name: 'app' }, { name: 'legacy', sidecarInjection: false }], ...spec },
  });
}

let n = 0;
export function attempts(s: Scenario, names?: string[]): ProbeAttempt[] {
  return s.spec.probes.filter((p) => !names || names.includes(p.name)).map((probe) => ({ probe, nonce: `t${process.pid}x${n++}`, attempt: 1 }));
}

/** Builds the agent bundle when it is missing (the lab needs the real agent). */
export function ensureAgentBundle(): void {
  if (!existsSync('dist/agent/meshprobe-agent.mjs')) execFileSync('node', ['scripts/bundle-agent.mjs'], { stdio: 'inherit' });
}

export function labNetns(labId: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith(`mp-${labId}-`));
}

export function labLeftovers(labId: string): string[] {
  const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((n) => n.startsWith(`mp-${labId}-`)) : [];
  const procs = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`/labs/${labId}/`));
  const state = existsSync(`/run/meshprobe/labs/${labId}`) ? [`/run/meshprobe/labs/${labId}`] : [];
  return [...labNetns(labId), ...etc.map((e) => `/etc/netns/${e}`), ...procs, ...state];
}
