/**
 * The commands `meshprobe up` issues for a profile, as data: the kind target runs them, `meshprobe render`
 * writes them out. Pure, so both always agree.
 */
import path from 'node:path';
import type { Profile } from './profiles.js';

export interface PlannedCommand {
  cmd: 'kind' | 'istioctl' | 'docker' | 'node';
  args: string[];
  why: string;
}

export const DEFAULT_CLUSTER = 'meshprobe';

/** Written on istio-system as the last step of `up`: a cluster without it was not brought up completely. */
export const PROFILE_LABEL = 'meshprobe.io/profile';

/** The agent bundle the Dockerfile copies, and the script that makes it (not shipped in the npm package). */
export const AGENT_BUNDLE = path.join('dist', 'agent', 'meshprobe-agent.mjs');
export const BUNDLE_SCRIPT = path.join('scripts', 'bundle-agent.mjs');

export function kubeContext(clusterName: string): string {
  return `kind-${clusterName}`;
}

export function upPlan(profile: Profile, clusterName: string, image: string, repoRoot: string): PlannedCommand[] {
  const ctx = kubeContext(clusterName);
  // Without a CNI (the cni profile, until Calico is applied) nodes never turn Ready, so waiting would only burn time.
  const wait = profile.features.cni ? [] : ['--wait', '180s'];
  return [
    {
      cmd: 'kind',
      args: ['create', 'cluster', '--name', clusterName, '--config', profile.kindConfigPath, ...wait],
      why: 'create the cluster (node image pinned in clusters/versions.yaml)',
    },
    {
      cmd: 'istioctl',
      args: ['install', '-y', '-f', profile.istioOperatorPath, '--context', ctx, '--readiness-timeout', '300s'],
      why: `install Istio ${profile.versions.istio} (${profile.name} profile)`,
    },
    { cmd: 'node', args: [path.join(repoRoot, BUNDLE_SCRIPT)], why: `bundle the agent into ${AGENT_BUNDLE}, which the Dockerfile copies` },
    { cmd: 'docker', args: ['build', '-t', image, '-f', path.join(repoRoot, 'Dockerfile'), repoRoot], why: 'build the probe image' },
    {
      cmd: 'kind',
      args: ['load', 'docker-image', image, '--name', clusterName],
      why: 'make the probe image available to the nodes without a registry',
    },
  ];
}

export function downPlan(clusterName: string): PlannedCommand[] {
  return [{ cmd: 'kind', args: ['delete', 'cluster', '--name', clusterName], why: 'delete the cluster and everything in it' }];
}

/**
 * CoreDNS Corefile with a `hosts` block naming the externals, so pods resolve them to their containers on the
 * kind network. Any previous meshprobe block is replaced; the rest of the Corefile is kept as it was.
 */
export function corefileWithHosts(corefile: string, entries: Array<{ ip: string; name: string }>): string {
  const cleaned = corefile.replace(/\n?\s*# meshprobe externals begin[\s\S]*?# meshprobe externals end\n?/, '\n');
  if (!entries.length) return cleaned;
  const block = [
    '    # meshprobe externals begin',
    '    hosts {',
    ...entries.map((e) => `      ${e.ip} ${e.name}`),
    '      fallthrough',
    '    }',
    '    # meshprobe externals end',
  ].join('\n');
  const open = cleaned.indexOf('.:53 {');
  if (open < 0) throw new Error('the CoreDNS Corefile has no ".:53 {" server block to add externals to');
  const at = open + '.:53 {'.length;
  return `${cleaned.slice(0, at)}\n${block}${cleaned.slice(at)}`;
}
