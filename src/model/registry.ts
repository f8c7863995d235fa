/**
 * What a client sidecar has in its registry: the Sidecar resource that applies to it (workload selector in its
 * namespace > namespace-wide Sidecar > root-namespace Sidecar), the egress hosts that Sidecar imports
 * (`<namespace>/<dns>` with `*`, `.` = the Sidecar's namespace, `~` = nothing; no egress means every namespace and host), and exportTo.
 */
import { hostMatches, isEmptySelector, selectorMatches } from './match.js';
import { formatRef, olderFirst, refOf, type Labels, type ServiceEntry, type Sidecar } from './types.js';
import { ROOT_NAMESPACE } from './mesh.js';

export interface ClientWorkload {
  readonly namespace: string;
  readonly labels: Labels;
}

export function sidecarFor(client: ClientWorkload, sidecars: readonly Sidecar[], rootNamespace = ROOT_NAMESPACE): Sidecar | undefined {
  const sorted = [...sidecars].sort(olderFirst);
  return (
    sorted.find((s) => s.metadata.namespace === client.namespace && !isEmptySelector(s.selector) && selectorMatches(s.selector, client.labels)) ??
    sorted.find((s) => s.metadata.namespace === client.namespace && isEmptySelector(s.selector)) ??
    sorted.find((s) => s.metadata.namespace === rootNamespace && isEmptySelector(s.selector))
  );
}

/** Is (namespace, host) imported by the Sidecar's egress hosts? `reason` names the egress host that decided. */
export function sidecarImports(sidecar: Sidecar | undefined, namespace: string, host: string): { imported: boolean; reason: string } {
  if (!sidecar || sidecar.egressHosts === undefined) return { imported: true, reason: 'no Sidecar egress restriction (*/*)' };
  const name = formatRef(refOf(sidecar));
  for (const entry of sidecar.egressHosts) {
    const slash = entry.indexOf('/');
    const ns = slash < 0 ? '*' : entry.slice(0, slash);
    const dns = slash < 0 ? entry : entry.slice(slash + 1);
    if (ns === '~') continue;
    const nsOk = ns === '*' || (ns === '.' ? sidecar.metadata.namespace : ns) === namespace;
    if (nsOk && hostMatches(dns, host)) return { imported: true, reason: `imported by egress host "${entry}" of ${name}` };
  }
  return { imported: false, reason: `not imported by the egress hosts of ${name} (${sidecar.egressHosts.join(', ')})` };
}

/** exportTo: empty or `*` → everywhere; `.` → the resource's own namespace; `~` → nowhere; else listed names. */
export function exportedTo(exportTo: readonly string[], ownNamespace: string, clientNamespace: string): boolean {
  if (exportTo.length === 0) return true;
  return exportTo.some((e) => e === '*' || (e === '.' ? ownNamespace : e) === clientNamespace);
}

export interface Registered {
  readonly serviceEntry: ServiceEntry;
  readonly reason: string;
}

/** The oldest ServiceEntry exported to the client that covers host AND port. */
export function serviceEntryFor(
  client: ClientWorkload,
  host: string,
  port: number,
  serviceEntries: readonly ServiceEntry[],
): { found: Registered } | { found: undefined; reason: string } {
  const candidates = [...serviceEntries].sort(olderFirst).filter((se) => se.hosts.some((h) => hostMatches(h, host)));
  if (candidates.length === 0) return { found: undefined, reason: `no ServiceEntry lists host ${host}` };
  const exported = candidates.filter((se) => exportedTo(se.exportTo, se.metadata.namespace, client.namespace));
  if (exported.length === 0) {
    return {
      found: undefined,
      reason: `ServiceEntry ${candidates.map((se) => formatRef(refOf(se))).join(', ')} not exported to namespace ${client.namespace}`,
    };
  }
  const withPort = exported.find((se) => se.ports.some((p) => p.number === port));
  if (!withPort) {
    return { found: undefined, reason: `ServiceEntry ${exported.map((se) => formatRef(refOf(se))).join(', ')} covers ${host} but not port ${port}` };
  }
  return { found: { serviceEntry: withPort, reason: `${formatRef(refOf(withPort))} covers ${host}:${port}` } };
}
