/**
 * A kind cluster that already exists is reused only when it is what the profile says: `up` finished on it (its
 * last step labels istio-system with the profile), with that profile, and the mesh read from the cluster agrees
 * (outbound policy, egress gateway). The Istio version reported is istiod's, not the pinned one.
 */
import { TargetError } from '../target.js';
import type { Kube } from '../k8s/kube.js';
import { readMesh } from '../k8s/mesh.js';
import { ROOT_NAMESPACE } from '../../model/mesh.js';
import { PROFILE_LABEL } from './plan.js';
import type { Profile } from './profiles.js';

export function profileMark(profile: Profile) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ROOT_NAMESPACE, labels: { [PROFILE_LABEL]: profile.name } } };
}

/** Returns istiod's version; throws when the cluster cannot be trusted to be the profile. */
export async function verifyCluster(kube: Kube, profile: Profile, cluster: string): Promise<string> {
  const redo = `run \`meshprobe down --name ${cluster}\` then \`meshprobe up --profile ${profile.name} --name ${cluster}\``;
  let labels: Record<string, string> | undefined;
  try {
    labels = (await kube.core.readNamespace({ name: ROOT_NAMESPACE })).metadata?.labels;
  } catch {
    throw new TargetError(`kind cluster ${cluster} exists but has no ${ROOT_NAMESPACE}: its \`meshprobe up\` did not finish`, redo);
  }
  const mark = labels?.[PROFILE_LABEL];
  if (!mark)
    throw new TargetError(
      `kind cluster ${cluster} exists but \`meshprobe up\` did not finish on it (no ${PROFILE_LABEL} label on ${ROOT_NAMESPACE})`,
      redo,
    );
  if (mark !== profile.name)
    throw new TargetError(`kind cluster ${cluster} was brought up with profile ${mark}, not ${profile.name}`, `pass --profile ${mark}, or ${redo}`);
  const mesh = await readMesh(kube, `kind cluster ${cluster}`);
  if (mesh.outboundTrafficPolicy !== profile.features.outboundTrafficPolicy) {
    throw new TargetError(
      `kind cluster ${cluster} (profile ${profile.name}) runs outboundTrafficPolicy ${mesh.outboundTrafficPolicy}, the profile says ${profile.features.outboundTrafficPolicy}`,
      redo,
    );
  }
  if (profile.features.egressGateway && !(await kube.listDeployments(ROOT_NAMESPACE, 'istio=egressgateway')).length) {
    throw new TargetError(
      `kind cluster ${cluster} (profile ${profile.name}) has no egress gateway (no deployment labelled istio=egressgateway)`,
      redo,
    );
  }
  return mesh.version;
}
