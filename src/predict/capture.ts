/**
 * Does a pod's sidecar capture this connection? The answers walk the nat rules istio-iptables installs
 * (src/targets/lab/capture.ts builds the same rules for the lab; docs/istio-facts.md lists them) in their order:
 * outbound — excluded interfaces, excluded ports (tcp and udp), uid/gid 1337, loopback, excluded ranges, included
 * ports, included ranges; only TCP is ever redirected. Inbound — no PREROUTING jump when includeInboundPorts is
 * "", "*" minus the exclusions (15090, 15021, 15020, 22 before Istio 1.13), or exactly the listed ports.
 */
import { split, excludesSshInbound, type CaptureConfig } from '../model/capture.js';
import { MODEL_ISTIO_VERSION, SIDECAR_UID } from '../model/mesh.js';
import { ipInBlock } from '../model/index.js';
import type { ProbeProtocolName } from './names.js';

export type CaptureVerdict = { readonly captured: boolean; readonly reason: string };

export interface OutboundCaptureInput {
  readonly sidecar: boolean;
  readonly capture: CaptureConfig;
  readonly uid: number;
  readonly flushed: boolean;
  readonly protocol: ProbeProtocolName;
  readonly port?: number;
  readonly destination: string;
  /** The destination is the pod itself: the kernel routes it over lo. */
  readonly self: boolean;
}

const isTcp = (p: ProbeProtocolName) => p === 'tcp' || p === 'http' || p === 'https';

export function outboundCapture(i: OutboundCaptureInput): CaptureVerdict {
  if (!i.sidecar) return { captured: false, reason: 'the client has no sidecar: its traffic goes out directly' };
  if (i.flushed)
    return { captured: false, reason: 'the client flushed its own nat table with NET_ADMIN (flush-capture): nothing is redirected to its sidecar' };
  if (!isTcp(i.protocol))
    return { captured: false, reason: `${i.protocol.toUpperCase()} is never redirected to the sidecar (istio-iptables redirects TCP only)` };
  const c = i.capture;
  const nics = split(c.excludeInterfaces);
  if (!i.self && nics.includes('eth0')) return { captured: false, reason: 'excludeInterfaces lists eth0: outbound traffic is not captured' };
  if (i.port !== undefined && split(c.excludeOutboundPorts).includes(String(i.port))) {
    return { captured: false, reason: `port ${i.port} is in excludeOutboundPorts: the client's sidecar does not see it` };
  }
  const uid1337 = i.uid === SIDECAR_UID;
  if (i.self) {
    // Traffic to the pod's own address leaves by lo: ISTIO_OUTPUT sends uid 1337 to the inbound listener and
    // returns everyone else untouched (the `-o lo` rules).
    return uid1337
      ? { captured: true, reason: "uid 1337 to the pod's own address over lo is redirected to its inbound listener (15006)" }
      : { captured: false, reason: "a call to the pod's own address goes over lo, which ISTIO_OUTPUT returns untouched for uids other than 1337" };
  }
  if (uid1337)
    return {
      captured: false,
      reason: "the client runs as uid 1337 (the proxy's uid): ISTIO_OUTPUT returns its traffic uncaptured (istio/istio#4286)",
    };
  if (split(c.excludeOutboundIPRanges).some((cidr) => !cidr.includes(':') && ipInBlock(cidr, i.destination))) {
    return { captured: false, reason: `${i.destination} is in excludeOutboundIPRanges (${c.excludeOutboundIPRanges}): not captured` };
  }
  if (i.port !== undefined && split(c.includeOutboundPorts).includes(String(i.port))) {
    return { captured: true, reason: `port ${i.port} is in includeOutboundPorts: captured by the client's sidecar` };
  }
  if (c.includeOutboundIPRanges === '*') return { captured: true, reason: "TCP from the application is captured by the client's sidecar (15001)" };
  const included = split(c.includeOutboundIPRanges).filter((cidr) => !cidr.includes(':'));
  if (included.some((cidr) => ipInBlock(cidr, i.destination))) {
    return { captured: true, reason: `${i.destination} is in includeOutboundIPRanges (${c.includeOutboundIPRanges}): captured` };
  }
  return {
    captured: false,
    reason:
      c.includeOutboundIPRanges === ''
        ? 'includeOutboundIPRanges is "": no outbound capture'
        : `${i.destination} is outside includeOutboundIPRanges (${c.includeOutboundIPRanges}): not captured`,
  };
}

export interface InboundCaptureInput {
  readonly sidecar: boolean;
  readonly capture: CaptureConfig;
  readonly protocol: ProbeProtocolName;
  readonly port?: number;
  readonly istioVersion?: string;
}

export function inboundCapture(i: InboundCaptureInput): CaptureVerdict {
  if (!i.sidecar) return { captured: false, reason: 'the destination has no sidecar: the application receives the connection directly' };
  if (!isTcp(i.protocol) || i.port === undefined) {
    return {
      captured: false,
      reason: `${i.protocol.toUpperCase()} is not redirected to the destination's sidecar: the application sees the client directly and no Istio policy applies`,
    };
  }
  const c = i.capture;
  if (split(c.excludeInterfaces).includes('eth0'))
    return { captured: false, reason: 'excludeInterfaces lists eth0: inbound traffic is not captured' };
  const port = String(i.port);
  if (c.includeInboundPorts === '') return { captured: false, reason: 'includeInboundPorts is "": no inbound capture, no Istio policy applies' };
  if (c.includeInboundPorts !== '*') {
    return split(c.includeInboundPorts).includes(port)
      ? { captured: true, reason: `port ${port} is in includeInboundPorts: captured by the destination's sidecar` }
      : {
          captured: false,
          reason: `port ${port} is not in includeInboundPorts (${c.includeInboundPorts}): the application sees the client directly, no Istio policy applies`,
        };
  }
  if (port === '22' && excludesSshInbound(i.istioVersion ?? MODEL_ISTIO_VERSION)) {
    return { captured: false, reason: `Istio ${i.istioVersion} excludes port 22 from inbound capture (until 1.13, istio/istio#36312)` };
  }
  if (split(c.excludeInboundPorts).includes(port)) {
    return {
      captured: false,
      reason: `port ${port} is excluded from inbound capture (excludeInboundPorts / injector defaults): the application sees the client directly, no Istio policy applies`,
    };
  }
  return { captured: true, reason: `port ${port} is captured by the destination's sidecar (15006)` };
}
