/**
 * The target factory. Implementations are imported lazily: a run on the lab never loads the Kubernetes client,
 * and a target whose module is missing from this build fails with a message saying so.
 */
import { TARGETS } from '../scenario/schema.js';
import { TargetError, type Target, type TargetName } from './target.js';

export interface TargetOptions {
  /** kubeconfig context (existing: required). */
  context?: string;
  /** Cluster profile name (kind). */
  profile?: string;
  /** kubeconfig file (existing; default: $KUBECONFIG or ~/.kube/config). */
  kubeconfig?: string;
  /** Probe image the cluster pulls (existing) or that is built and loaded (kind), for scenarios that need it. */
  image?: string;
  /** Stock Node image the agent is mounted into where the probes allow it (default node:22-slim). */
  stockImage?: string;
  /** Allow resources in the mesh root namespace and mesh-wide settings on an existing cluster. */
  allowMeshChanges?: boolean;
  /** Leave what the run created in place (`--keep`). */
  keep?: boolean;
  verbose?: boolean;
  /** Where a target writes progress lines (verbose). */
  log?: (message: string) => void;
}

type TargetClass = new (options: TargetOptions) => Target;

// Variable specifiers: each implementation is written separately and may be absent from a build.
const MODULES: Record<TargetName, { module: string; exportName: string }> = {
  lab: { module: './lab/index.js', exportName: 'LabTarget' },
  kind: { module: './kind/index.js', exportName: 'KindTarget' },
  existing: { module: './existing/index.js', exportName: 'ExistingTarget' },
};

export function isTargetName(name: string): name is TargetName {
  return (TARGETS as readonly string[]).includes(name);
}

export async function createTarget(name: TargetName, options: TargetOptions = {}): Promise<Target> {
  const { module, exportName } = MODULES[name];
  let mod: Record<string, unknown>;
  try {
    mod = (await import(module)) as Record<string, unknown>;
  } catch (err) {
    throw new TargetError(
      `the ${name} target is not available in this build (${module.replace('./', 'src/targets/').replace('.js', '.ts')}: ${(err as Error).message})`,
      name === 'lab' ? 'rebuild with `npm run build`' : 'use --target lab',
    );
  }
  const Impl = mod[exportName];
  if (typeof Impl !== 'function') {
    throw new TargetError(`the ${name} target module does not export ${exportName}`, 'rebuild with `npm run build`');
  }
  return new (Impl as TargetClass)(options);
}
