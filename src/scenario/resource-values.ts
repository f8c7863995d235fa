/**
 * Value checks of a manifest, beyond its kind's JSON Schema (which checks types, not syntax): every name, port,
 * CIDR, label, host and annotation the targets act on, with Kubernetes' and Istio's rules (values.ts says where
 * they come from). And one rule of our own for every string in a manifest except annotation values: no control
 * characters — a newline in a value is how text meant as data becomes a command or an iptables rule.
 *
 *   resourceValueIssues(obj, kind) → ResourceIssue[]   (obj already known to be a mapping of that kind)
 */
import { pathTemplateError } from '../model/path-template.js';
import { serviceAccountError } from '../model/service-account.js';
import * as v from './values.js';

type PathSegment = string | number;
export interface ValueIssue {
  path: PathSegment[];
  message: string;
  at: 'key' | 'value';
}

type Check = (s: string) => string | undefined;
type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const list = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

class Issues {
  readonly out: ValueIssue[] = [];
  str(value: unknown, path: PathSegment[], check: Check): void {
    if (typeof value !== 'string') return;
    const m = check(value);
    if (m) this.out.push({ path, at: 'value', message: m });
  }
  each(value: unknown, path: PathSegment[], check: Check): void {
    list(value).forEach((x, i) => this.str(x, [...path, i], check));
  }
  port(value: unknown, path: PathSegment[]): void {
    if (value === undefined) return;
    const m = v.portNumber(value);
    if (m) this.out.push({ path, at: 'value', message: m });
  }
  labels(value: unknown, path: PathSegment[]): void {
    if (!isObj(value)) return;
    for (const [k, val] of Object.entries(value)) {
      const km = v.qualifiedName(k);
      if (km) this.out.push({ path: [...path, k], at: 'key', message: `label key ${km}` });
      this.str(val, [...path, k], v.labelValue);
    }
  }
}

export function resourceValueIssues(obj: Obj, kind: string): ValueIssue[] {
  const issues = new Issues();
  noControlAnywhere(obj, [], issues.out);
  checkMetadata(obj.metadata, issues);
  walkSelectors(obj.spec, ['spec'], issues);
  const spec = isObj(obj.spec) ? obj.spec : {};
  const byKind: Record<string, (spec: Obj, issues: Issues) => void> = {
    NetworkPolicy: networkPolicy,
    AuthorizationPolicy: authorizationPolicy,
    PeerAuthentication: peerAuthentication,
    ServiceEntry: serviceEntry,
    Sidecar: sidecar,
    VirtualService: virtualService,
    DestinationRule: destinationRule,
    Gateway: gateway,
  };
  byKind[kind]?.(spec, issues);
  // One message per field: a value with a newline is not also "not a CIDR".
  const seen = new Set<string>();
  return issues.out.filter((i) => {
    const id = `${i.at}:${JSON.stringify(i.path)}`;
    return !seen.has(id) && Boolean(seen.add(id));
  });
}

function noControlAnywhere(value: unknown, path: PathSegment[], out: ValueIssue[]): void {
  if (typeof value === 'string') {
    const m = v.noControl(value);
    if (m) out.push({ path, at: 'value', message: m });
  } else if (Array.isArray(value)) {
    value.forEach((x, i) => noControlAnywhere(x, [...path, i], out));
  } else if (isObj(value)) {
    const annotations = path.length === 1 && path[0] === 'metadata';
    for (const [k, x] of Object.entries(value)) {
      const km = v.noControl(k);
      if (km) out.push({ path: [...path, k], at: 'key', message: `key ${km}` });
      // Annotation values are opaque to Kubernetes (JSON with newlines is common); the lab refuses the ones it does not emulate.
      if (!(annotations && k === 'annotations')) noControlAnywhere(x, [...path, k], out);
    }
  }
}

function checkMetadata(metadata: unknown, issues: Issues): void {
  if (!isObj(metadata)) return;
  // NetworkPolicy names are DNS-1123 subdomains (ValidateNetworkPolicyName). The API server asks only a path-safe
  // name of custom resources (Istio's kinds); meshprobe asks the same subdomain of them: names become file names.
  issues.str(metadata.name, ['metadata', 'name'], v.dnsSubdomain);
  issues.str(metadata.namespace, ['metadata', 'namespace'], v.dnsLabel);
  issues.labels(metadata.labels, ['metadata', 'labels']);
  if (isObj(metadata.annotations)) {
    for (const k of Object.keys(metadata.annotations)) {
      const m = v.qualifiedName(k);
      if (m) issues.out.push({ path: ['metadata', 'annotations', k], at: 'key', message: `annotation key ${m}` });
    }
  }
}

/** Label selectors wherever they are: matchLabels, matchExpressions (keys and values are label syntax). */
function walkSelectors(value: unknown, path: PathSegment[], issues: Issues): void {
  if (Array.isArray(value)) value.forEach((x, i) => walkSelectors(x, [...path, i], issues));
  if (!isObj(value)) return;
  for (const [k, x] of Object.entries(value)) {
    if (k === 'matchLabels') issues.labels(x, [...path, k]);
    else if (k === 'matchExpressions') {
      list(x).forEach((e, i) => {
        if (!isObj(e)) return;
        issues.str(e.key, [...path, k, i, 'key'], v.qualifiedName);
        issues.each(e.values, [...path, k, i, 'values'], v.labelValue);
      });
    } else walkSelectors(x, [...path, k], issues);
  }
}

function networkPolicy(spec: Obj, issues: Issues): void {
  for (const [dir, peersKey] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    list(spec[dir]).forEach((rule, i) => {
      if (!isObj(rule)) return;
      const at: PathSegment[] = ['spec', dir, i];
      list(rule[peersKey]).forEach((peer, j) => {
        if (isObj(peer) && isObj(peer.ipBlock)) ipBlock(peer.ipBlock, [...at, peersKey, j, 'ipBlock'], issues);
      });
      list(rule.ports).forEach((p, j) => {
        if (isObj(p)) networkPolicyPort(p, [...at, 'ports', j], issues);
      });
    });
  }
}

function ipBlock(block: Obj, path: PathSegment[], issues: Issues): void {
  issues.str(block.cidr, [...path, 'cidr'], v.cidr);
  list(block.except).forEach((ex, k) => {
    issues.str(
      ex,
      [...path, 'except', k],
      (s) => v.cidr(s) ?? (typeof block.cidr === 'string' && !v.cidr(block.cidr) ? v.strictSubset(s, block.cidr) : undefined),
    );
  });
}

/** ValidateNetworkPolicyPort: a number or a port name; endPort only after a numeric port, and not below it. */
function networkPolicyPort(p: Obj, path: PathSegment[], issues: Issues): void {
  if (typeof p.port === 'string') issues.str(p.port, [...path, 'port'], v.portName);
  else issues.port(p.port, [...path, 'port']);
  if (p.endPort === undefined) return;
  if (typeof p.port !== 'number') {
    issues.out.push({ path: [...path, 'endPort'], at: 'key', message: 'endPort needs a numeric port (not a port name, not absent)' });
    return;
  }
  issues.port(p.endPort, [...path, 'endPort']);
  if (typeof p.endPort === 'number' && p.endPort < p.port)
    issues.out.push({ path: [...path, 'endPort'], at: 'value', message: `must be greater than or equal to port (${p.port})` });
}

function authorizationPolicy(spec: Obj, issues: Issues): void {
  list(spec.rules).forEach((rule, i) => {
    if (!isObj(rule)) return;
    list(rule.from).forEach((f, j) => {
      const source = isObj(f) && isObj(f.source) ? f.source : {};
      for (const key of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
        issues.each(source[key], ['spec', 'rules', i, 'from', j, 'source', key], v.ipOrCidr);
      }
      for (const key of ['serviceAccounts', 'notServiceAccounts']) {
        issues.each(source[key], ['spec', 'rules', i, 'from', j, 'source', key], (s) => serviceAccountError(key, [s]));
      }
    });
    list(rule.to).forEach((t, j) => {
      const op = isObj(t) && isObj(t.operation) ? t.operation : {};
      for (const key of ['ports', 'notPorts']) issues.each(op[key], ['spec', 'rules', i, 'to', j, 'operation', key], v.portString);
      for (const key of ['paths', 'notPaths'])
        issues.each(op[key], ['spec', 'rules', i, 'to', j, 'operation', key], (s) => pathTemplateError(key, [s]));
    });
    // Istio's ValidateAttribute: IP conditions take IPs or CIDRs.
    list(rule.when).forEach((w, j) => {
      if (!isObj(w) || !['source.ip', 'remote.ip', 'destination.ip'].includes(String(w.key))) return;
      for (const key of ['values', 'notValues']) issues.each(w[key], ['spec', 'rules', i, 'when', j, key], v.ipOrCidr);
    });
  });
}

function peerAuthentication(spec: Obj, issues: Issues): void {
  if (!isObj(spec.portLevelMtls)) return;
  for (const k of Object.keys(spec.portLevelMtls)) {
    const m = v.portString(k);
    if (m) issues.out.push({ path: ['spec', 'portLevelMtls', k], at: 'key', message: m });
  }
}

const exportTo: Check = (s) => (s === '.' || s === '*' || s === '~' ? undefined : v.dnsLabel(s));
const unixPath: Check = (s) =>
  /^unix:\/\/\/[\x21-\x7e]+$/.test(s) && !s.split('/').includes('..') ? undefined : `${JSON.stringify(s)} is not an absolute unix:// socket path`;
const ipOrHost: Check = (s) => (v.parseIp(s) ? undefined : s.startsWith('unix://') ? unixPath(s) : v.istioDomain(s, false));

/** Istio port names are DNS-1123 labels (istio/istio pkg/config/validation ValidatePortName: labels.IsDNS1123Label). */
const istioPortName: Check = (s) => (v.dnsLabel(s) ? `invalid port name ${JSON.stringify(s)}: ${v.dnsLabel(s)}` : undefined);

function serviceEntry(spec: Obj, issues: Issues): void {
  issues.each(spec.hosts, ['spec', 'hosts'], (s) => (s === '*' ? 'a ServiceEntry host cannot be "*"' : v.istioDomain(s, true)));
  issues.each(spec.addresses, ['spec', 'addresses'], v.ipOrCidr);
  issues.each(spec.exportTo, ['spec', 'exportTo'], exportTo);
  list(spec.ports).forEach((p, i) => {
    if (!isObj(p)) return;
    issues.port(p.number, ['spec', 'ports', i, 'number']);
    issues.port(p.targetPort, ['spec', 'ports', i, 'targetPort']);
    issues.str(p.name, ['spec', 'ports', i, 'name'], istioPortName);
  });
  list(spec.endpoints).forEach((e, i) => {
    if (!isObj(e)) return;
    issues.str(e.address, ['spec', 'endpoints', i, 'address'], ipOrHost);
    issues.labels(e.labels, ['spec', 'endpoints', i, 'labels']);
    if (isObj(e.ports)) for (const [k, n] of Object.entries(e.ports)) issues.port(n, ['spec', 'endpoints', i, 'ports', k]);
  });
  if (isObj(spec.workloadSelector)) issues.labels(spec.workloadSelector.labels, ['spec', 'workloadSelector', 'labels']);
}

/** "namespace/dnsName" (ValidateNamespaceSlashWildcardHostname); a Gateway may omit the namespace or name an IP. */
function slashHost(gateway: boolean): Check {
  return (s) => {
    const slash = s.indexOf('/');
    if (slash < 0 && !gateway) return `${JSON.stringify(s)} must be of the form namespace/dnsName`;
    const ns = slash < 0 ? undefined : s.slice(0, slash);
    const host = s.slice(slash + 1);
    if (ns !== undefined && !(ns === '*' || ns === '.' || (!gateway && ns === '~')) && v.dnsLabel(ns))
      return `namespace of host ${JSON.stringify(s)} must be "*", "."${gateway ? '' : ', "~"'} or a DNS-1123 label`;
    if (gateway && v.parseIp(host)) return undefined;
    if (host !== '*' && !host.includes('.')) return `host ${JSON.stringify(s)}: short names (not fully qualified) are not allowed`;
    if (host.includes('*') && host !== '*' && !host.startsWith('*.')) return `partial wildcard in ${JSON.stringify(s)} is not allowed`;
    return v.istioDomain(host, true);
  };
}

const defaultEndpoint: Check = (s) =>
  /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):[0-9]{1,5}$/.test(s) && !v.portString(s.slice(s.lastIndexOf(':') + 1))
    ? undefined
    : s.startsWith('unix://')
      ? unixPath(s)
      : `${JSON.stringify(s)} must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path`;

function sidecar(spec: Obj, issues: Issues): void {
  list(spec.egress).forEach((e, i) => {
    if (!isObj(e)) return;
    issues.each(e.hosts, ['spec', 'egress', i, 'hosts'], slashHost(false));
    if (isObj(e.port)) issues.port(e.port.number, ['spec', 'egress', i, 'port', 'number']);
    if (isObj(e.port)) issues.str(e.port.name, ['spec', 'egress', i, 'port', 'name'], istioPortName);
    issues.str(e.bind, ['spec', 'egress', i, 'bind'], (s) => (v.parseIp(s) ? undefined : unixPath(s)));
  });
  list(spec.ingress).forEach((e, i) => {
    if (!isObj(e)) return;
    if (isObj(e.port)) issues.port(e.port.number, ['spec', 'ingress', i, 'port', 'number']);
    if (isObj(e.port)) issues.str(e.port.name, ['spec', 'ingress', i, 'port', 'name'], istioPortName);
    issues.str(e.defaultEndpoint, ['spec', 'ingress', i, 'defaultEndpoint'], defaultEndpoint);
    issues.str(e.bind, ['spec', 'ingress', i, 'bind'], (s) => (v.parseIp(s) ? undefined : `${JSON.stringify(s)} is not an IP address`));
  });
  if (isObj(spec.workloadSelector)) issues.labels(spec.workloadSelector.labels, ['spec', 'workloadSelector', 'labels']);
}

const vsHost: Check = (s) => (v.parseIp(s) ? undefined : v.istioDomain(s, true));
const gatewayRef: Check = (s) => {
  if (s === 'mesh') return undefined;
  const parts = s.split('/');
  if (parts.length > 2) return `${JSON.stringify(s)} must be "mesh", a Gateway name or namespace/name`;
  return parts.length === 2 ? (v.dnsLabel(parts[0]) ?? v.dnsSubdomain(parts[1])) : v.dnsSubdomain(s);
};

function virtualService(spec: Obj, issues: Issues): void {
  issues.each(spec.hosts, ['spec', 'hosts'], vsHost);
  issues.each(spec.gateways, ['spec', 'gateways'], gatewayRef);
  issues.each(spec.exportTo, ['spec', 'exportTo'], exportTo);
  for (const section of ['http', 'tcp', 'tls']) {
    list(spec[section]).forEach((r, i) => {
      if (!isObj(r)) return;
      list(r.route).forEach((d, j) => {
        const dest = isObj(d) && isObj(d.destination) ? d.destination : undefined;
        if (!dest) return;
        issues.str(dest.host, ['spec', section, i, 'route', j, 'destination', 'host'], (s) => v.istioDomain(s, false));
        if (isObj(dest.port)) issues.port(dest.port.number, ['spec', section, i, 'route', j, 'destination', 'port', 'number']);
      });
      list(r.match).forEach((m, j) => {
        if (!isObj(m)) return;
        issues.each(m.sniHosts, ['spec', section, i, 'match', j, 'sniHosts'], (s) => v.istioDomain(s, true));
        issues.each(m.gateways, ['spec', section, i, 'match', j, 'gateways'], gatewayRef);
        if (m.port !== undefined) issues.port(m.port, ['spec', section, i, 'match', j, 'port']);
      });
    });
  }
}

function destinationRule(spec: Obj, issues: Issues): void {
  issues.str(spec.host, ['spec', 'host'], (s) => v.istioDomain(s, true));
  issues.each(spec.exportTo, ['spec', 'exportTo'], exportTo);
  list(spec.subsets).forEach((s, i) => {
    if (isObj(s)) issues.labels(s.labels, ['spec', 'subsets', i, 'labels']);
  });
  const policy = isObj(spec.trafficPolicy) ? spec.trafficPolicy : {};
  list(policy.portLevelSettings).forEach((p, i) => {
    if (isObj(p) && isObj(p.port)) issues.port(p.port.number, ['spec', 'trafficPolicy', 'portLevelSettings', i, 'port', 'number']);
  });
}

function gateway(spec: Obj, issues: Issues): void {
  issues.labels(spec.selector, ['spec', 'selector']);
  list(spec.servers).forEach((s, i) => {
    if (!isObj(s)) return;
    issues.each(s.hosts, ['spec', 'servers', i, 'hosts'], slashHost(true));
    if (isObj(s.port)) {
      issues.port(s.port.number, ['spec', 'servers', i, 'port', 'number']);
      issues.port(s.port.targetPort, ['spec', 'servers', i, 'port', 'targetPort']);
      issues.str(s.port.name, ['spec', 'servers', i, 'port', 'name'], istioPortName);
    }
  });
}
