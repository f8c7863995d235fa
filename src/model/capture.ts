/**
 * Istio's sidecar capture configuration (pure): a pod's `traffic.sidecar.istio.io/*` annotations plus the
 * injector's defaults → the flags istio-iptables runs with (tools/istio-iptables/pkg/cmd/root.go; see
 * docs/istio-facts.md). The lab turns this into nat rules (src/targets/lab/capture.ts); the predictor walks the same
 * configuration (src/predict/capture.ts). Annotations that are not ports, CIDRs or interface names are refused here,
 * before anything reaches a rule.
 */
import semver from 'semver';
import { SIDECAR_UID } from './mesh.js';

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
    proxyUid: String(SIDECAR_UID),
    proxyGid: String(SIDECAR_UID),
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
  if (m === null) return false;
  return m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32;
}

/** Port 22 was hard-coded as an inbound exclusion until Istio 1.13 (istio/istio#36312). */
export function excludesSshInbound(istioVersion: string): boolean {
  const v = semver.coerce(istioVersion);
  if (v === null) throw new Error(`"${istioVersion}" is not an Istio version`);
  return semver.lt(v, '1.13.0');
}
