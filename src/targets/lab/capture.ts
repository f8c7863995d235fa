/**
 * Istio's sidecar capture rules as a pure function: pod annotations (plus the injector's defaults) → the ordered
 * nat-table rules istio-iptables installs in REDIRECT mode. The order follows tools/istio-iptables/pkg/capture/run.go
 * and its testdata/*.golden listings (see docs/istio-facts.md); DNS capture, TPROXY and owner-group filters are off in a
 * default install and are not modelled. IPv4 only: IPv6 ranges in the annotations are accepted and ignored, as
 * istio-iptables does for the IPv4 table.
 */
import semver from 'semver';
import { iptablesRule, restoreInput } from './tokens.js';

export const ANNOTATION_PREFIX = 'traffic.sidecar.istio.io/';

/** The capture annotations the lab emulates, by their suffix after `traffic.sidecar.istio.io/`. */
export const CAPTURE_ANNOTATIONS = [
  'includeInboundPorts',
  'excludeInboundPorts',
  'includeOutboundPorts',
  'excludeOutboundPorts',
  'includeOutboundIPRanges',
  'excludeOutboundIPRanges',
  'excludeInterfaces',
] as const;
export type CaptureAnnotation = (typeof CAPTURE_ANNOTATIONS)[number];

/** The istio-iptables flags, after the injector has applied its defaults. Lists are comma-separated as on the command line. */
export interface CaptureConfig {
  proxyPort: number; // -p
  inboundCapturePort: number; // -z
  proxyUid: string; // -u
  proxyGid: string; // -g (defaults to -u)
  inboundTunnelPort: number; // 15008 (HBONE)
  includeInboundPorts: string; // -b
  excludeInboundPorts: string; // -d
  includeOutboundPorts: string; // -q
  excludeOutboundPorts: string; // -o
  includeOutboundIPRanges: string; // -i
  excludeOutboundIPRanges: string; // -x
  excludeInterfaces: string; // -c
}

/** The nat table as istio-iptables leaves it: chains it creates, then rules in the order it appends them. */
export interface CaptureRules {
  chains: string[];
  rules: string[];
}

export class CaptureConfigError extends Error {
  constructor(
    readonly annotation: string,
    message: string,
  ) {
    super(message);
    this.name = 'CaptureConfigError';
  }
}

/** The status port the injector always adds to the inbound exclusions (pilot-agent's 15020). */
const STATUS_PORT = '15020';
/** What the injection template always excludes inbound before the annotation's own ports. */
const ALWAYS_EXCLUDED_INBOUND = '15090,15021';

export function split(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * What the injector passes to istio-iptables for a pod with these annotations (injection-template.yaml and
 * pkg/kube/inject/template.go excludeInboundPort): -d is "15090,15021," + the annotation's ports + the status port.
 */
export function captureConfigFromAnnotations(annotations: Record<string, string> = {}): CaptureConfig {
  const get = (name: CaptureAnnotation, fallback: string) => annotations[ANNOTATION_PREFIX + name] ?? fallback;
  const userExcluded = split(get('excludeInboundPorts', ''));
  const excluded = userExcluded.includes(STATUS_PORT) ? userExcluded : [...userExcluded, STATUS_PORT];
  const config: CaptureConfig = {
    proxyPort: 15001,
    inboundCapturePort: 15006,
    proxyUid: '1337',
    proxyGid: '1337',
    inboundTunnelPort: 15008,
    includeInboundPorts: get('includeInboundPorts', '*').trim(),
    excludeInboundPorts: [ALWAYS_EXCLUDED_INBOUND, ...excluded].join(','),
    includeOutboundPorts: get('includeOutboundPorts', ''),
    excludeOutboundPorts: get('excludeOutboundPorts', ''),
    includeOutboundIPRanges: get('includeOutboundIPRanges', '*').trim(),
    excludeOutboundIPRanges: get('excludeOutboundIPRanges', '').trim(),
    excludeInterfaces: get('excludeInterfaces', ''),
  };
  validate(config);
  return config;
}

const PORT = /^\d{1,5}$/;
const IPV4_CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const INTERFACE = /^[A-Za-z0-9_.@:-]{1,15}$/;

function validate(c: CaptureConfig): void {
  const ports: [CaptureAnnotation, string][] = [
    ['includeInboundPorts', c.includeInboundPorts === '*' ? '' : c.includeInboundPorts],
    ['excludeInboundPorts', c.excludeInboundPorts],
    ['includeOutboundPorts', c.includeOutboundPorts],
    ['excludeOutboundPorts', c.excludeOutboundPorts],
  ];
  for (const [name, list] of ports) {
    for (const p of split(list)) {
      if (!PORT.test(p) || Number(p) < 1 || Number(p) > 65535) {
        throw new CaptureConfigError(ANNOTATION_PREFIX + name, `${ANNOTATION_PREFIX}${name}: "${p}" is not a port (1-65535)`);
      }
    }
  }
  if (c.excludeOutboundIPRanges === '*') {
    // istio-iptables refuses this too ("invalid value for OUTBOUND_IP_RANGES_EXCLUDE").
    throw new CaptureConfigError(ANNOTATION_PREFIX + 'excludeOutboundIPRanges', `${ANNOTATION_PREFIX}excludeOutboundIPRanges: "*" is not allowed`);
  }
  const ranges: [CaptureAnnotation, string][] = [
    ['includeOutboundIPRanges', c.includeOutboundIPRanges === '*' ? '' : c.includeOutboundIPRanges],
    ['excludeOutboundIPRanges', c.excludeOutboundIPRanges],
  ];
  for (const [name, list] of ranges) {
    for (const r of split(list)) {
      if (!isCidr(r)) {
        throw new CaptureConfigError(ANNOTATION_PREFIX + name, `${ANNOTATION_PREFIX}${name}: "${r}" is not a CIDR such as 10.0.0.0/8`);
      }
    }
  }
  for (const i of split(c.excludeInterfaces)) {
    if (!INTERFACE.test(i)) {
      throw new CaptureConfigError(ANNOTATION_PREFIX + 'excludeInterfaces', `${ANNOTATION_PREFIX}excludeInterfaces: "${i}" is not an interface name`);
    }
  }
}

function isCidr(s: string): boolean {
  if (s.includes(':')) return /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(s); // IPv6: checked for shape only, then ignored
  const m = IPV4_CIDR.exec(s);
  return m !== null && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

const isV4 = (cidr: string) => !cidr.includes(':');
const isLoopbackV4 = (cidr: string) => cidr.startsWith('127.');

type Add = (chain: string, ...tokens: string[]) => void;

/** The nat rules istio-iptables (REDIRECT mode) installs for this configuration, for an Istio of `istioVersion`. */
export function captureRules(c: CaptureConfig, istioVersion: string): CaptureRules {
  const rules: string[] = [];
  // Each rule's tokens are checked before they are joined (tokens.ts), independently of validate() above.
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
  for (const [owner, ids] of [['--uid-owner', c.proxyUid], ['--gid-owner', c.proxyGid]] as const) {
    for (const id of split(ids)) {
      add('ISTIO_OUTPUT', '-o', 'lo', '!', '-d', '127.0.0.1/32', '-p', 'tcp', '!', '--dport', tunnel, '-m', 'owner', owner, id, '-j', 'ISTIO_IN_REDIRECT');
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

/** Port 22 was hard-coded as an inbound exclusion until Istio 1.13 (istio/istio#36312). */
export function excludesSshInbound(istioVersion: string): boolean {
  const v = semver.coerce(istioVersion);
  if (v === null) throw new Error(`"${istioVersion}" is not an Istio version`);
  return semver.lt(v, '1.13.0');
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
