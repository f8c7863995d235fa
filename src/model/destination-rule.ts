/**
 * Which DestinationRule a client applies to a host, and its TLS settings for a port. Short hosts (`reviews`) are
 * resolved in the DestinationRule's namespace (`reviews.<ns>.svc.cluster.local`). Lookup order as in Istio: a rule
 * in the client's namespace, then in the service's namespace, then in the root namespace; within a namespace the
 * most specific host wins (exact before wildcard), then the oldest. exportTo limits which clients see a rule.
 */
import { hostMatches, hostSpecificity } from './match.js';
import { exportedTo } from './registry.js';
import { formatRef, olderFirst, refOf, type ClientTls, type DestinationRule } from './types.js';
import { CLUSTER_DOMAIN, ROOT_NAMESPACE } from './mesh.js';

export function resolveHost(host: string, namespace: string): string {
  return host.includes('.') || host.includes('*') ? host : `${host}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

export interface DestinationRuleLookup {
  readonly clientNamespace: string;
  /** Namespace of the Kubernetes Service or ServiceEntry that defines the host, when known. */
  readonly serviceNamespace?: string;
  readonly host: string;
}

export function destinationRuleFor(
  lookup: DestinationRuleLookup,
  rules: readonly DestinationRule[],
  rootNamespace = ROOT_NAMESPACE,
): DestinationRule | undefined {
  const order = [lookup.clientNamespace, lookup.serviceNamespace, rootNamespace].filter((n): n is string => n !== undefined);
  for (const namespace of order) {
    const candidates = rules
      .filter((dr) => dr.metadata.namespace === namespace)
      .filter((dr) => exportedTo(dr.exportTo, dr.metadata.namespace, lookup.clientNamespace))
      .filter((dr) => hostMatches(resolveHost(dr.host, namespace), lookup.host))
      .sort((a, b) => hostSpecificity(resolveHost(b.host, namespace)) - hostSpecificity(resolveHost(a.host, namespace)) || olderFirst(a, b));
    if (candidates[0]) return candidates[0];
  }
  return undefined;
}

export interface PortTls {
  readonly tls: ClientTls;
  readonly reason: string;
}

/** portLevelSettings for the port override trafficPolicy.tls; undefined when the rule sets no TLS for the port. */
export function tlsForPort(rule: DestinationRule, port: number): PortTls | undefined {
  const name = formatRef(refOf(rule));
  const portTls = rule.portTls.get(port);
  if (portTls) return { tls: portTls, reason: `${name} portLevelSettings ${port} sets tls.mode ${portTls.mode}` };
  if (rule.tls) return { tls: rule.tls, reason: `${name} trafficPolicy sets tls.mode ${rule.tls.mode}` };
  return undefined;
}
