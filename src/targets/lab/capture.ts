/**
 * Istio's sidecar capture rules as a pure function: the model's capture configuration (src/model/capture.ts) → the
 * ordered nat-table rules istio-iptables installs in REDIRECT mode. The order follows
 * tools/istio-iptables/pkg/capture/run.go and its testdata/*.golden listings (see docs/istio-facts.md); DNS capture,
 * TPROXY and owner-group filters are off in a default install and are not modelled. IPv4 only: IPv6 ranges in the
 * annotations are accepted and ignored, as istio-iptables does for the IPv4 table.
 */
import { excludesSshInbound, split, type CaptureConfig } from '../../model/capture.js';
import { iptablesRule, restoreInput } from './tokens.js';

/** The nat table as istio-iptables leaves it: chains it creates, then rules in the order it appends them. */
export interface CaptureRules {
  chains: string[];
  rules: string[];
}

const isV4 = (cidr: string) => !cidr.includes(':');
const isLoopbackV4 = (cidr: string) => cidr.startsWith('127.');

type Add = (chain: string, ...tokens: string[]) => void;

/** The nat rules istio-iptables (REDIRECT mode) installs for this configuration, for an Istio of `istioVersion`. */
export function captureRules(c: CaptureConfig, istioVersion: string): CaptureRules {
  const rules: string[] = [];
  // Each rule's tokens are checked before they are joined (tokens.ts), independently of the checks in src/model/capture.ts.
  const add: Add = (chain, ...tokens) => rules.push(iptablesRule(['-A', chain, ...tokens], 'capture rule'));

  for (const nic of split(c.excludeInterfaces)) {
    add('PREROUTING', '-i', nic, '-j', 'RETURN');
    add('OUTPUT', '-o', nic, '-j', 'RETURN');
  }
  const tunnel = String(c.inboundTunnelPort);
  add('ISTIO_INBOUND', '-p', 'tcp', '--dport', tunnel, '-j', 'RETURN');
  add('ISTIO_REDIRECT', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(c.proxyPort));
  add('ISTIO_IN_REDIRECT', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(c.inboundCapturePort));
  inboundRules(c, istioVersion, add);
  add('OUTPUT', '-j', 'ISTIO_OUTPUT');
  for (const port of split(c.excludeOutboundPorts)) {
    add('ISTIO_OUTPUT', '-p', 'tcp', '--dport', port, '-j', 'RETURN');
    add('ISTIO_OUTPUT', '-p', 'udp', '--dport', port, '-j', 'RETURN');
  }
  add('ISTIO_OUTPUT', '-o', 'lo', '-s', '127.0.0.6/32', '-j', 'RETURN');

  const include = c.includeOutboundIPRanges === '*' ? '*' : split(c.includeOutboundIPRanges).filter(isV4);
  const includesLoopback = include !== '*' && include.some(isLoopbackV4);
  for (const [owner, ids] of [
    ['--uid-owner', c.proxyUid],
    ['--gid-owner', c.proxyGid],
  ] as const) {
    for (const id of split(ids)) {
      add(
        'ISTIO_OUTPUT',
        '-o',
        'lo',
        '!',
        '-d',
        '127.0.0.1/32',
        '-p',
        'tcp',
        '!',
        '--dport',
        tunnel,
        '-m',
        'owner',
        owner,
        id,
        '-j',
        'ISTIO_IN_REDIRECT',
      );
      if (!includesLoopback) add('ISTIO_OUTPUT', '-o', 'lo', '-m', 'owner', '!', owner, id, '-j', 'RETURN');
      add('ISTIO_OUTPUT', '-m', 'owner', owner, id, '-j', 'RETURN');
    }
  }
  add('ISTIO_OUTPUT', '-d', '127.0.0.1/32', '-j', 'RETURN');
  for (const cidr of split(c.excludeOutboundIPRanges).filter(isV4)) add('ISTIO_OUTPUT', '-d', cidr, '-j', 'RETURN');
  for (const port of split(c.includeOutboundPorts)) add('ISTIO_OUTPUT', '-p', 'tcp', '--dport', port, '-j', 'ISTIO_REDIRECT');
  if (include === '*') add('ISTIO_OUTPUT', '-j', 'ISTIO_REDIRECT');
  else for (const cidr of include) add('ISTIO_OUTPUT', '-d', cidr, '-j', 'ISTIO_REDIRECT');

  return { chains: ['ISTIO_INBOUND', 'ISTIO_REDIRECT', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT'], rules };
}

function inboundRules(c: CaptureConfig, istioVersion: string, add: Add): void {
  if (c.includeInboundPorts === '') return; // no inbound capture at all: not even the PREROUTING jump
  add('PREROUTING', '-p', 'tcp', '-j', 'ISTIO_INBOUND');
  if (c.includeInboundPorts === '*') {
    if (excludesSshInbound(istioVersion)) add('ISTIO_INBOUND', '-p', 'tcp', '--dport', '22', '-j', 'RETURN');
    for (const port of split(c.excludeInboundPorts)) add('ISTIO_INBOUND', '-p', 'tcp', '--dport', port, '-j', 'RETURN');
    add('ISTIO_INBOUND', '-p', 'tcp', '-j', 'ISTIO_IN_REDIRECT');
  } else {
    for (const port of split(c.includeInboundPorts)) add('ISTIO_INBOUND', '-p', 'tcp', '--dport', port, '-j', 'ISTIO_IN_REDIRECT');
  }
}

/** iptables-restore input that replaces the pod's nat table with exactly these rules. */
export function toRestoreInput(r: CaptureRules): string {
  return restoreInput('nat', r.chains, r.rules);
}
