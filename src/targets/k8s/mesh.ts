/**
 * What a cluster's mesh actually is, read from the cluster rather than assumed: istiod's deployment (revisioned or
 * not) and its version, and the outbound traffic policy in its mesh ConfigMap. Anything unreadable is an error:
 * a policy that cannot be read is never taken to be the default.
 */
import YAML from 'yaml';
import type { V1Deployment } from '@kubernetes/client-node';
import { TargetError } from '../target.js';
import type { Kube } from './kube.js';
import { ROOT_NAMESPACE } from '../../model/mesh.js';

export interface MeshInfo {
  /** istiod's revision label (`default` when unlabelled). */
  revision: string;
  version: string;
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** meshConfig.pathNormalization.normalization; unset or DEFAULT is BASE. */
  pathNormalization: string;
}

/** `docker.io/istio/pilot:1.26.2` → `1.26.2` (distroless and other suffixes dropped); undefined for digest-only refs. */
export function istioVersionFromImage(image: string): string | undefined {
  const tag = /:([^:@/]+)(@.*)?$/.exec(image)?.[1];
  const m = tag ? /^v?(\d+\.\d+\.\d+)/.exec(tag) : null;
  return m?.[1];
}

/** The version from the image tag, else from the labels Istio's charts put on istiod (digest-only images). */
export function istiodVersion(d: V1Deployment): string | undefined {
  const images = (d.spec?.template.spec?.containers ?? []).map((c) => c.image ?? '');
  const labels = { ...(d.metadata?.labels ?? {}), ...(d.spec?.template.metadata?.labels ?? {}) };
  const fromLabel = labels['app.kubernetes.io/version'] ?? labels['operator.istio.io/version'] ?? labels['istio.io/version'];
  return images.map(istioVersionFromImage).find(Boolean) ?? (fromLabel && /^\d+\.\d+\.\d+/.exec(fromLabel)?.[0]);
}

const revisionOf = (d: V1Deployment) => d.metadata?.labels?.['istio.io/rev'] ?? 'default';

/**
 * Picks the istiod that injects pods in a namespace labelled istio-injection=enabled: the only one, the
 * unrevisioned (`default`) one among several, else the revision the `default` revision tag points at (`istioctl tag
 * set default` writes it as a MutatingWebhookConfiguration labelled istio.io/tag=default and istio.io/rev=<rev>).
 * Several candidates and no tag are refused.
 */
export function pickIstiod(deployments: V1Deployment[], context: string, defaultTag?: string): V1Deployment {
  if (!deployments.length)
    throw new TargetError(
      `no istiod deployment (label app=istiod) in ${ROOT_NAMESPACE} on ${context}`,
      'install Istio (istioctl install) or pick the context of a cluster that has it',
    );
  if (deployments.length === 1) return deployments[0];
  const byRev = deployments.filter((d) => revisionOf(d) === 'default');
  if (byRev.length === 1) return byRev[0];
  const tagged = defaultTag === undefined ? [] : deployments.filter((d) => revisionOf(d) === defaultTag);
  if (tagged.length === 1) return tagged[0];
  const revs = deployments.map(revisionOf).join(', ');
  throw new TargetError(
    `several istiod revisions on ${context} (${revs}) and none is the default${defaultTag !== undefined ? ` (the default tag points at ${defaultTag})` : ''}`,
    'tag one revision as default (istioctl tag set default --revision R) so meshprobe knows which one to judge against',
  );
}

/** The revision the `default` revision tag points at, when there is one. */
async function defaultRevisionTag(kube: Kube, context: string): Promise<string | undefined> {
  const tags = await kube.listMutatingWebhookLabels('istio.io/tag=default').catch((err: Error) => {
    throw new TargetError(
      `several istiod revisions on ${context}, and the default revision tag cannot be read: ${err.message}`,
      'grant list on mutatingwebhookconfigurations, or tag one revision as default',
    );
  });
  return tags.map((l) => l['istio.io/rev']).find((r) => r !== undefined);
}

export async function readMesh(kube: Kube, context: string): Promise<MeshInfo> {
  const deployments = await kube.listDeployments(ROOT_NAMESPACE, 'app=istiod');
  const ambiguous = deployments.length > 1 && deployments.filter((d) => revisionOf(d) === 'default').length !== 1;
  const istiod = pickIstiod(deployments, context, ambiguous ? await defaultRevisionTag(kube, context) : undefined);
  const revision = revisionOf(istiod);
  const version = istiodVersion(istiod);
  if (!version) {
    const images = (istiod.spec?.template.spec?.containers ?? []).map((c) => c.image).join(', ');
    throw new TargetError(
      `cannot tell the Istio version of ${istiod.metadata?.name} (image ${images}, no version label)`,
      'use a tagged istiod image, or label the deployment app.kubernetes.io/version',
    );
  }
  const name = revision === 'default' ? 'istio' : `istio-${revision}`;
  let mesh: { outboundTrafficPolicy?: { mode?: string }; pathNormalization?: { normalization?: string } } | null;
  try {
    const cm = await kube.core.readNamespacedConfigMap({ namespace: ROOT_NAMESPACE, name });
    mesh = YAML.parse(cm.data?.mesh ?? '') as typeof mesh;
  } catch (err) {
    throw new TargetError(
      `cannot read the mesh configuration (ConfigMap ${ROOT_NAMESPACE}/${name}) on ${context}: ${(err as Error).message}`,
      'meshprobe judges outbound-policy scenarios only on a policy it has read; grant get on that ConfigMap',
    );
  }
  const mode = mesh?.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
  if (mode !== 'ALLOW_ANY' && mode !== 'REGISTRY_ONLY')
    throw new TargetError(`ConfigMap ${ROOT_NAMESPACE}/${name}: unknown outboundTrafficPolicy.mode ${mode}`);
  const n = mesh?.pathNormalization?.normalization;
  return { revision, version, outboundTrafficPolicy: mode, pathNormalization: n === undefined || n === 'DEFAULT' ? 'BASE' : n };
}
