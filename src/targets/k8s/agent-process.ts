/**
 * How the agent runs in a scenario's pods on a cluster: from which image (a stock Node image with the agent
 * mounted from a ConfigMap, or the probe image), as which uid, and with which capabilities. Pure: render, the
 * targets' checks and the exec'd probe commands all decide from here, so they always agree.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { canFlushCapture, canRunAs } from '../../model/capabilities.js';
import { allProbes } from '../../scenario/steps.js';
import type { Probe, Scenario, Workload } from '../../scenario/schema.js';

/**
 * The stock image: the official Node image every cluster can pull (Debian slim: sh, head, test, node; no ping,
 * iptables or setpriv). Node 22 because node 20 is end of life.
 */
export const STOCK_IMAGE = 'node:22-slim';
/** The uid the agent runs as unless a probe needs another: the probe image's USER, set explicitly on the stock one. */
export const AGENT_UID = 1000;
/**
 * Kubernetes refuses a ConfigMap whose keys and values together exceed 1 MiB (pkg/apis/core/validation
 * ValidateConfigMap: totalSize > core.MaxSecretSize, 1 * 1024 * 1024).
 */
export const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;
/** The stock mode's ConfigMap (one per scenario namespace that has workloads) and its single key. */
export const AGENT_BUNDLE_CONFIGMAP = 'meshprobe-agent';
export const AGENT_BUNDLE_KEY = 'meshprobe-agent.mjs';

/** The bundle scripts/bundle-agent.mjs writes (this file is src/targets/k8s or dist/targets/k8s in the checkout). */
export const AGENT_BUNDLE_FILE = fileURLToPath(new URL('../../../dist/agent/meshprobe-agent.mjs', import.meta.url));

export type AgentMode = 'stock' | 'image';

export interface AgentSource {
  mode: AgentMode;
  /** Why the probe image is needed (one line per reason, naming the probe); empty in stock mode. */
  reasons: string[];
}

function probesFrom(scenario: Scenario, w: Workload): Probe[] {
  return allProbes(scenario).filter((p) => p.from === `${w.namespace}/${w.name}`);
}

/** The uid a workload declares, else the agent's own: what the container runs as unless its probes need root. */
export function declaredUid(w: Workload): number {
  return w.runAsUser ?? AGENT_UID;
}

/**
 * The uid the exec'd probe commands start as. Root (0) when a probe flushes capture (iptables needs NET_ADMIN,
 * which Kubernetes gives a non-root container only in its bounding set, kubernetes/kubernetes#56374) or runs as a
 * uid other than the declared one (setpriv needs SETUID/SETGID, same reason); the declared uid otherwise, so a
 * probe `as` the workload's own uid needs nothing at all.
 */
export function processUid(scenario: Scenario, w: Workload): number {
  const own = declaredUid(w);
  const mine = probesFrom(scenario, w);
  return mine.some((p) => p.bypass === 'flush-capture' || (p.as !== undefined && p.as.user !== own)) ? 0 : own;
}

/** What the probes sent from a workload need from its container's process. */
export interface ProbeNeeds {
  /** `as: {user}` to a uid other than the process's own: setpriv must change uid and gid. */
  setuid: boolean;
  /** `bypass: flush-capture`: iptables must rewrite the pod's nat table. */
  netAdmin: boolean;
}

export function probeNeeds(scenario: Scenario, w: Workload): ProbeNeeds {
  const mine = probesFrom(scenario, w);
  const uid = processUid(scenario, w);
  return { setuid: mine.some((p) => p.as !== undefined && p.as.user !== uid), netAdmin: mine.some((p) => p.bypass === 'flush-capture') };
}

/**
 * Why a workload's probes cannot run on a cluster as declared, or undefined. Real runtimes give a non-root
 * process no effective capabilities whatever the pod adds (kubernetes/kubernetes#56374), so setpriv and iptables
 * work only in a container running as uid 0: a workload that declares another uid cannot send such probes
 * (`as` its own uid needs no setpriv and is fine).
 */
export function capabilityConflict(scenario: Scenario, w: Workload): string | undefined {
  if (w.runAsUser === undefined || w.runAsUser === 0) return undefined;
  const mine = probesFrom(scenario, w);
  // The declared uid with every capability the render would add: the model decides what that process can use.
  const id = { uid: w.runAsUser, capabilities: ['SETUID', 'SETGID', 'NET_ADMIN'] };
  const otherUid = mine.find((p) => p.as !== undefined && !canRunAs(id, p.as.user));
  const flush = canFlushCapture(id) ? undefined : mine.find((p) => p.bypass === 'flush-capture');
  if (!otherUid && !flush) return undefined;
  const what = [
    otherUid ? `\`as: {user: ${otherUid.as!.user}}\` (probe ${otherUid.name}: setpriv needs CAP_SETUID/CAP_SETGID)` : '',
    flush ? `\`bypass: flush-capture\` (probe ${flush.name}: iptables needs CAP_NET_ADMIN)` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  return `workload ${w.namespace}/${w.name} runs as uid ${w.runAsUser} but its probes use ${what}; Kubernetes gives a non-root container no effective capabilities (kubernetes/kubernetes#56374), so the command would fail`;
}

/**
 * Stock mode wherever the probes allow it: the stock image lacks ping (icmp probes), iptables (flush-capture) and
 * setpriv (`as` a uid other than the workload's own), so any of those makes the whole scenario use the probe image.
 */
export function agentSource(scenario: Scenario): AgentSource {
  const reasons: string[] = [];
  for (const w of scenario.spec.workloads) {
    const uid = processUid(scenario, w);
    for (const p of probesFrom(scenario, w)) {
      if (p.protocol === 'icmp') reasons.push(`probe ${p.name} is icmp: ping is not in ${STOCK_IMAGE}`);
      if (p.bypass === 'flush-capture') reasons.push(`probe ${p.name} flushes capture: iptables is not in ${STOCK_IMAGE}`);
      if (p.as !== undefined && p.as.user !== uid)
        reasons.push(
          `probe ${p.name} runs as uid ${p.as.user}, not the workload's own ${declaredUid(w)}: that takes setpriv (not in ${STOCK_IMAGE}) in a container running as uid 0 with SETUID/SETGID`,
        );
    }
  }
  return { mode: reasons.length ? 'image' : 'stock', reasons };
}

/** One line for render and the run's notes. */
export function describeAgentSource(source: AgentSource, stockImage = STOCK_IMAGE): string {
  return source.mode === 'stock'
    ? `agent: stock image ${stockImage} with the agent mounted from a ConfigMap (no probe image needed)`
    : `agent: probe image, because ${source.reasons.join('; ')}`;
}

export class AgentBundleError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'AgentBundleError';
  }
}

/** The agent bundle's text for the stock mode's ConfigMap; missing or over the ConfigMap limit is an error. */
export async function loadAgentBundle(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AgentBundleError(
      `the agent bundle ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      'run `npm run bootstrap` (or `node scripts/bundle-agent.mjs`) in the meshprobe checkout',
    );
  }
  const size = Buffer.byteLength(text, 'utf8') + AGENT_BUNDLE_KEY.length;
  if (size > CONFIGMAP_LIMIT_BYTES)
    throw new AgentBundleError(
      `the agent bundle ${file} is ${size} bytes, too big for a ConfigMap (limit ${CONFIGMAP_LIMIT_BYTES})`,
      'use the probe image (--image)',
    );
  return text;
}
