/** The lab's service registry as the sidecar sees it (pure): addresses and names → hosts, and a port's protocol. */
import type { ServiceEntry } from '../../../model/index.js';
import { hostMatches } from '../../../model/index.js';
import type { ListenProtocol } from '../../../agent/types.js';
import type { RegistryHost } from './config.js';

export class Registry {
  private readonly byAddr = new Map<string, RegistryHost>();
  private readonly byName = new Map<string, RegistryHost>();

  constructor(readonly hosts: readonly RegistryHost[]) {
    for (const h of hosts) {
      this.byAddr.set(h.address, h);
      for (const n of [h.host, ...h.names]) this.byName.set(n.toLowerCase(), h);
    }
  }

  address(ip: string): RegistryHost | undefined {
    return this.byAddr.get(ip);
  }

  /** `name` as a client wrote it (Host header, `reviews`, `reviews.ns`): resolved with the client's search list. */
  name(name: string, clientNamespace?: string): RegistryHost | undefined {
    const n = name.toLowerCase().replace(/\.$/, '');
    return (
      this.byName.get(n) ??
      (clientNamespace ? this.byName.get(`${n}.${clientNamespace}.svc.cluster.local`) : undefined) ??
      this.byName.get(`${n}.svc.cluster.local`)
    );
  }
}

/**
 * What the application speaks to host:port, as the sidecar's listener for that port knows it: the destination's
 * declared port, else a ServiceEntry port naming HTTP, else TCP (Istio sniffs; the lab does not).
 */
export function portProtocol(dest: RegistryHost | undefined, host: string, port: number, serviceEntries: readonly ServiceEntry[]): ListenProtocol {
  const declared = dest?.ports.find((p) => p.port === port && p.protocol !== 'udp');
  if (declared) return declared.protocol;
  for (const se of serviceEntries) {
    if (!se.hosts.some((h) => hostMatches(h, host))) continue;
    const p = se.ports.find((sp) => sp.number === port);
    if (p && /^(HTTP|HTTP2|GRPC)$/i.test(p.protocol)) return 'http';
    if (p && /^(HTTPS|TLS)$/i.test(p.protocol)) return 'https';
  }
  return 'tcp';
}
