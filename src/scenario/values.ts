/**
 * Syntax of the values meshprobe hands to iptables, ip, file names and the wire, as Kubernetes and Istio define
 * them. Each check returns undefined when the value is valid, else a message for `file:line:col: field: message`.
 * The rules are read from (facts only, no code):
 * - kubernetes staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go: IsDNS1123Label (≤ 63),
 *   IsDNS1123Subdomain (≤ 253), IsQualifiedName (label and annotation keys: optional DNS subdomain prefix + "/" +
 *   name ≤ 63 of [A-Za-z0-9-_.] starting and ending alphanumeric), IsValidLabelValue (≤ 63, empty or the same
 *   characters), IsValidPortNum (1–65535), IsValidPortName (IANA_SVC_NAME: ≤ 15 of [a-z0-9-], at least one letter,
 *   no leading, trailing or double "-");
 * - kubernetes pkg/apis/networking/validation/validation.go: ValidateIPBlock (cidr a valid CIDR; each except a valid
 *   CIDR and a strict subset of cidr: inside it and with a longer prefix);
 * - istio pkg/config/validation/agent/validation.go: ValidateWildcardDomain (≤ 255 characters, a wildcard only as
 *   the first label), ValidatePartialWildCard ("*" alone or a "*." prefix, never "foo*"), ValidateDNS1123Labels
 *   (the top-level label is not all-numeric; an empty last label allows "istio.io."), and
 *   ValidateNamespaceSlashWildcardHostname (Sidecar and Gateway hosts "namespace/dnsName", namespace "*", "." or
 *   "~" (Sidecar only) or a DNS-1123 label; no short names; Gateway hosts may be IP addresses);
 * - RFC 9110 §5.1/§5.5/§9.1: field names and methods are tokens; field values are visible ASCII, obs-text, SP and
 *   HTAB without leading or trailing whitespace.
 */
import { isIPv6 } from 'node:net';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const HTTP_PATH = /^\/[\x21-\x7e]*$/;

const show = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

export function dnsLabel(s: string): string | undefined {
  if (s.length > 63) return 'must be at most 63 characters (DNS-1123 label)';
  if (!DNS1123_LABEL.test(s))
    return `${show(s)} is not a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit`;
  return undefined;
}

export function dnsSubdomain(s: string): string | undefined {
  if (s.length > 253) return 'must be at most 253 characters (DNS-1123 subdomain)';
  if (s === '' || !s.split('.').every((l) => DNS1123_LABEL.test(l))) {
    return `${show(s)} is not a DNS-1123 subdomain: lower-case labels of letters, digits and "-" separated by "."`;
  }
  return undefined;
}

export function qualifiedName(s: string): string | undefined {
  const slash = s.lastIndexOf('/');
  const [prefix, name] = slash >= 0 ? [s.slice(0, slash), s.slice(slash + 1)] : [undefined, s];
  if (prefix !== undefined) {
    const bad = prefix === '' ? 'is empty' : dnsSubdomain(prefix);
    if (bad) return `prefix of ${show(s)} must be a DNS-1123 subdomain (${bad})`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `${show(s)} is not a qualified name: at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, with an optional DNS subdomain prefix and "/"`;
  }
  return undefined;
}

export function labelValue(s: string): string | undefined {
  if (s === '') return undefined;
  if (s.length > 63 || !QUALIFIED_NAME.test(s))
    return `${show(s)} is not a label value: at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit`;
  return undefined;
}

export function portNumber(n: unknown): string | undefined {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) return `must be a port from 1 to 65535 (got ${JSON.stringify(n)})`;
  return undefined;
}

/** A port given as a string of digits (Istio's AuthorizationPolicy ports, PeerAuthentication portLevelMtls keys). */
export function portString(s: string): string | undefined {
  if (!/^[0-9]{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) return `${show(s)} is not a port from 1 to 65535`;
  return undefined;
}

/** IANA_SVC_NAME without its length limit (1-15): a-z, 0-9 and "-", at least one letter, no leading, trailing or double "-". */
export const PORT_NAME = /^(?=[a-z0-9-]*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;

export function portName(s: string): string | undefined {
  const ok = s.length >= 1 && s.length <= 15 && PORT_NAME.test(s);
  return ok
    ? undefined
    : `${show(s)} is not a port name (IANA_SVC_NAME: at most 15 of a-z, 0-9 and "-", with a letter, no leading, trailing or double "-")`;
}

/** 4 or 16 bytes, or undefined. IPv4 octets without leading zeros (ambiguous: octal to some parsers); no zones. */
export function parseIp(s: string): number[] | undefined {
  if (/^[0-9.]+$/.test(s)) {
    const parts = s.split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.map(Number);
  }
  if (s.includes('%') || !isIPv6(s)) return undefined;
  return ipv6Bytes(s);
}

function ipv6Bytes(s: string): number[] {
  let text = s;
  const tail: number[] = [];
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...(parseIp(v4[1]) ?? [0, 0, 0, 0]));
    text = `${text.slice(0, v4.index)}:0:0`;
  }
  const [head, rest] = text.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':').filter((g) => g !== '') : []);
  const h = groups(head);
  const r = groups(rest);
  const words = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  const bytes = words.flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 0xff]);
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

export interface Cidr {
  bytes: number[];
  prefix: number;
}

export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const bytes = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!bytes || !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > bytes.length * 8) return undefined;
  return { bytes, prefix: Number(p) };
}

export function cidr(s: string): string | undefined {
  return parseCidr(s) ? undefined : `${show(s)} is not a CIDR: an IPv4 or IPv6 address, "/" and a prefix length (0-32 or 0-128), e.g. 10.0.0.0/16`;
}

export function ipOrCidr(s: string): string | undefined {
  return parseIp(s) || parseCidr(s) ? undefined : `${show(s)} is not an IP address or CIDR`;
}

/** Kubernetes' ValidateIPBlock: `except` must lie inside `cidr` and be strictly smaller. */
export function strictSubset(inner: string, outer: string): string | undefined {
  const a = parseCidr(inner);
  const b = parseCidr(outer);
  if (!a || !b) return undefined;
  const inside = a.bytes.length === b.bytes.length && a.prefix > b.prefix && samePrefix(a.bytes, b.bytes, b.prefix);
  return inside ? undefined : `${show(inner)} must be a strict subset of cidr ${show(outer)}`;
}

function samePrefix(x: number[], y: number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const bit = (v: number[]) => (v[i >> 3] >> (7 - (i & 7))) & 1;
    if (bit(x) !== bit(y)) return false;
  }
  return true;
}

/** Istio's ValidateFQDN / ValidateWildcardDomain; `wildcard` allows "*" and "*.rest" (not "foo*"). */
export function istioDomain(s: string, wildcard: boolean): string | undefined {
  if (s.length === 0) return 'empty host name';
  if (s.length > 255) return `host ${show(s)} is longer than 255 characters`;
  if (wildcard && s === '*') return undefined;
  let rest = s;
  if (wildcard && s.startsWith('*.')) rest = s.slice(2);
  const labels = rest.split('.');
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return `host ${show(s)}: the top-level label cannot be all-numeric`;
  const ok = labels.every((l, i) => (i === labels.length - 1 && l === '' && i > 0) || (l.length <= 63 && DNS1123_LABEL.test(l.toLowerCase())));
  if (!ok) return `host ${show(s)} is not a DNS name${wildcard ? ' (a "*" is allowed only as the whole first label)' : ''}`;
  return undefined;
}

export function httpToken(s: string, what: string): string | undefined {
  return TOKEN.test(s) ? undefined : `${show(s)} is not a valid ${what}: letters, digits and !#$%&'*+-.^_\`|~ only (RFC 9110 token)`;
}

export function headerValue(s: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[^\t\x20-\x7e\x80-\xff]/.test(s)) return `${show(s)} contains a control character (CR, LF, NUL, …) or a character above U+00FF`;
  if (/^[ \t]|[ \t]$/.test(s)) return `${show(s)} has leading or trailing whitespace`;
  return undefined;
}

export function httpPath(s: string): string | undefined {
  if (!s.startsWith('/')) return 'must start with "/"';
  if (/[^\x21-\x7e]/.test(s)) return `${show(s)} contains a space, a control character or a non-ASCII character (percent-encode it)`;
  return undefined;
}

/** No C0 control character or DEL: nothing a manifest means needs one, and CR/LF/NUL end lines in rules and files. */
export function noControl(s: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x1f\x7f]/.test(s) ? `${show(s)} contains a control character (newline, tab, NUL, …)` : undefined;
}

export const SIDECAR_ANNOTATION_PREFIX = 'traffic.sidecar.istio.io/';

const items = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

function eachItem(s: string, check: Check): string | undefined {
  for (const item of items(s)) {
    const m = check(item);
    if (m) return m;
  }
  return undefined;
}
type Check = (s: string) => string | undefined;

const linuxInterface: Check = (s) =>
  /^[A-Za-z0-9_.@:-]{1,15}$/.test(s) && s !== '.' && s !== '..'
    ? undefined
    : `${show(s)} is not a network interface name (at most 15 of A-Z a-z 0-9 _ . @ : -)`;

/**
 * Values of the capture annotations (istio pkg/kube/inject/validate.go: ValidateIncludeIPRanges,
 * ValidateExcludeIPRanges, ValidateIncludeInboundPorts, ValidateExcludeInboundPorts, ValidateExcludeOutboundPorts):
 * comma-separated CIDRs or ports, "*" where Istio allows it; excludeInterfaces lists interface names.
 */
export function sidecarAnnotation(key: string, value: string): string | undefined {
  const control = noControl(value);
  if (control) return control;
  const name = key.slice(SIDECAR_ANNOTATION_PREFIX.length);
  const star = (check: Check): string | undefined => (value.trim() === '*' ? undefined : eachItem(value, check));
  switch (name) {
    case 'includeOutboundIPRanges':
      return star(cidr);
    case 'excludeOutboundIPRanges':
      return eachItem(value, cidr);
    case 'includeInboundPorts':
      return star(portString);
    case 'excludeInboundPorts':
    case 'includeOutboundPorts':
    case 'excludeOutboundPorts':
      return eachItem(value, portString);
    case 'excludeInterfaces':
      return eachItem(value, linuxInterface);
    default:
      return undefined;
  }
}
