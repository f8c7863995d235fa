/**
 * Per-run namespace names on a cluster. Every scenario namespace `app` becomes `mp-<run>-<scenario hash>-app`,
 * so scenarios run in parallel on one cluster and nothing outside the run's namespaces is touched. The map is
 * kept both ways: resources are rewritten forward, observations (peer identities, hosts) are shown backward.
 */
import { createHash } from 'node:crypto';
import type { Scenario } from '../../scenario/schema.js';

/** Namespaces the harness never creates, deletes or rewrites: the mesh root and the cluster's own. */
export const RESERVED_NAMESPACES = ['istio-system', 'kube-system', 'kube-public', 'kube-node-lease', 'default'] as const;
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const RUN_LABEL = 'meshprobe.io/run';
export const SCENARIO_LABEL = 'meshprobe.io/scenario';

export interface NamespaceMap {
  /** Prefix shared by all the deployment's namespaces, ending in "-". */
  readonly prefix: string;
  readonly runId: string;
  /** scenario namespace → cluster namespace */
  readonly forward: ReadonlyMap<string, string>;
  /** cluster namespace → scenario namespace */
  readonly reverse: ReadonlyMap<string, string>;
}

const RUN_ID = /^[a-z0-9]{1,8}$/;

/** A fresh run id: short, lower-case, safe inside a DNS label. */
export function newRunId(random: () => number = Math.random): string {
  let id = '';
  for (let i = 0; i < 5; i++) id += 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(random() * 36)];
  return id;
}

export function namespacePrefix(runId: string, scenarioName: string): string {
  if (!RUN_ID.test(runId)) throw new Error(`run id "${runId}" must be 1-8 lower-case letters or digits`);
  const tag = createHash('sha256').update(scenarioName).digest('hex').slice(0, 4);
  return `mp-${runId}-${tag}-`;
}

/** Names longer than a DNS label keep their start and get a hash suffix, so they stay unique. */
function fitLabel(name: string): string {
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 6);
  return `${name.slice(0, 56).replace(/-+$/, '')}-${hash}`;
}

export function namespaceMap(runId: string, scenario: Scenario): NamespaceMap {
  const prefix = namespacePrefix(runId, scenario.metadata.name);
  const forward = new Map<string, string>();
  const reverse = new Map<string, string>();
  for (const ns of scenario.spec.namespaces) {
    const cluster = fitLabel(prefix + ns.name);
    forward.set(ns.name, cluster);
    reverse.set(cluster, ns.name);
  }
  return { prefix, runId, forward, reverse };
}
