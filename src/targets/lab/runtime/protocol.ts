/** Messages between the lab and its runtime threads (worker.ts). */
import type { SidecarConfig } from '../sidecar/config.js';
import type { DropRead } from './fate.js';

/** One pod to run: its namespace, its hosts file, and which of its programs run as which uid. */
export interface PodSpec {
  /** `<labid>/<namespace>/<name>`: unique among the runtime's pods. */
  key: string;
  /** /run/netns/<pod>. */
  netnsPath: string;
  hosts: string;
  /** The agent's serve config (a ServeConfig, checked by the runtime) and the workload's uid. */
  agent?: { config: unknown; uid: number };
  /** The sidecar's (or egress gateway's) config; uid 1337. */
  sidecar?: { config: SidecarConfig; uid: number };
}

/**
 * `hold` blocks the thread for `ms`, `afterMs` from now, without running anything (as a long garbage collection
 * or a starved CPU would): how the tests prove that a stall turns a timeout into ERROR. `reconfigure` is a step
 * of the scenario: the pod's sidecar takes this configuration for its new connections.
 */
export type RuntimeRequest =
  | { op: 'start'; id: number; pod: PodSpec }
  | { op: 'stop'; id: number; pods: string[] }
  | { op: 'hold'; id: number; ms: number; afterMs: number }
  | { op: 'reconfigure'; id: number; pod: string; sidecar: SidecarConfig };

/** Without an answer: a counter read of a lab's NetworkPolicy drops (fate.ts), or a lab that is gone. */
export type RuntimeNotice = { op: 'drops'; read: DropRead } | { op: 'forget'; lab: string } | { op: 'exit' };

export type RuntimeReply = { op: 'done'; id: number; error?: string } | { op: 'log'; message: string };
