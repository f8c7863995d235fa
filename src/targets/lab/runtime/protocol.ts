/** Messages between the lab and its runtime threads (worker.ts). */
import type { SidecarConfig } from '../sidecar/config.js';

/** One pod to run: its namespace, its hosts file, and which of its programs run as which uid. */
export interface PodSpec {
  /** `<labid>/<namespace>/<name>`: unique among the runtime's pods. */
  key: string;
  /** /run/netns/<pod>. */
  netnsPath: string;
  hosts: string;
  /** The probe agent's serve config (a ServeConfig, checked by the runtime) and the workload's uid. */
  agent?: { config: unknown; uid: number };
  /** The sidecar's (or egress gateway's) config; uid 1337. */
  sidecar?: { config: SidecarConfig; uid: number };
}

export type RuntimeRequest =
  | { op: 'start'; id: number; pod: PodSpec }
  | { op: 'stop'; id: number; pods: string[] }
  /** A step of the scenario: the pod's sidecar takes this configuration for its new connections. */
  | { op: 'reconfigure'; id: number; pod: string; sidecar: SidecarConfig };

export type RuntimeReply = { op: 'done'; id: number; error?: string } | { op: 'log'; message: string };
