/**
 * The facts of a mesh that everything else takes as given, each defined here once: the Istio release whose
 * behaviour the model follows (the lab emulates it), the proxy's uid, the trust and cluster domain, the root
 * namespace, and how a scenario's workload becomes a pod (its labels, whether it gets a sidecar). A workload's default
 * uid and capabilities are in capabilities.ts, a namespace's labels in network-policy.ts.
 */
import type { Namespace, Workload } from '../scenario/schema.js';

/** The Istio release whose behaviour the model, and so the lab, follows (docs/istio-facts.md: ~1.31-dev sources). */
export const MODEL_ISTIO_VERSION = '1.30.0';

/** The uid (and gid) the sidecar proxy runs as; istio-iptables never captures its traffic. */
export const SIDECAR_UID = 1337;

/** Kubernetes' default cluster domain, also Istio's default trust domain. */
export const CLUSTER_DOMAIN = 'cluster.local';

/** Istio's default root (config) namespace: policies here apply mesh-wide. */
export const ROOT_NAMESPACE = 'istio-system';

/** Istio's SPIFFE identity of a workload's service account. */
export function spiffeId(namespace: string, serviceAccount: string, trustDomain = CLUSTER_DOMAIN): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** A workload's Service as a client in the cluster names it. */
export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

/**
 * The SNI a client sidecar sends with auto mTLS: the name of the outbound cluster, `outbound_.PORT_._.HOST`. The
 * server's sidecar sees it as `connection.sni` (pilot/pkg/networking/util BuildSubsetKey, no subset).
 */
export function meshSni(port: number, host: string): string {
  return `outbound_.${port}_._.${host}`;
}

/** Pod labels: the workload's own plus `app: <name>`, the convention selectors in the built-in scenarios use. */
export function podLabels(w: Workload): Record<string, string> {
  return { app: w.name, ...(w.labels ?? {}) };
}

/** The workload's own `sidecar`, else its namespace's `sidecarInjection`, else injected. */
export function hasSidecar(scenario: { readonly spec: { readonly namespaces: readonly Namespace[] } }, w: Workload): boolean {
  return w.sidecar ?? scenario.spec.namespaces.find((n) => n.name === w.namespace)?.sidecarInjection ?? true;
}
