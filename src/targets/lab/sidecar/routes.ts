/**
 * The slice of Istio routing the lab emulates (pure): Gateway servers on the egress gateway, and VirtualService HTTP
 * routes bound to `mesh` (the sidecars) or to a Gateway — exactly what Istio's egress-gateway task uses. Everything
 * else in these two kinds is reported by `unsupportedRoutingFields` so the lab can refuse it by name.
 */
import { hostMatches, resolveHost } from '../../../model/index.js';

export interface GatewayServer {
  port: number;
  protocol: string;
  hosts: string[];
}

export interface Gateway {
  name: string;
  namespace: string;
  selector: Record<string, string>;
  servers: GatewayServer[];
}

export interface HttpRoute {
  match: { gateways?: string[]; port?: number }[];
  destination: { host: string; port?: number };
}

export interface VirtualService {
  name: string;
  namespace: string;
  hosts: string[];
  /** Fully qualified `ns/name` gateway references, or `mesh`. */
  gateways: string[];
  http: HttpRoute[];
}

type Raw = Record<string, unknown>;
const obj = (v: unknown): Raw => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strs = (v: unknown): string[] => arr(v).filter((s): s is string => typeof s === 'string');
const meta = (m: unknown) => ({ name: String(obj(m)['name'] ?? ''), namespace: String(obj(m)['namespace'] ?? 'default') });

/** `istio-egressgateway` in namespace `default` → `default/istio-egressgateway`; `mesh` stays `mesh`. */
export function gatewayRef(ref: string, namespace: string): string {
  return ref === 'mesh' || ref.includes('/') ? ref : `${namespace}/${ref}`;
}

export function parseGateway(raw: unknown): Gateway {
  const r = obj(raw);
  const spec = obj(r['spec']);
  const selector = Object.fromEntries(Object.entries(obj(spec['selector'])).map(([k, v]) => [k, String(v)]));
  const servers = arr(spec['servers']).map((s) => {
    const port = obj(obj(s)['port']);
    return { port: Number(port['number']), protocol: String(port['protocol'] ?? 'HTTP').toUpperCase(), hosts: strs(obj(s)['hosts']) };
  });
  return { ...meta(r['metadata']), selector, servers };
}

export function parseVirtualService(raw: unknown): VirtualService {
  const r = obj(raw);
  const { name, namespace } = meta(r['metadata']);
  const spec = obj(r['spec']);
  const gateways = strs(spec['gateways']).map((g) => gatewayRef(g, namespace));
  const http = arr(spec['http']).map((h): HttpRoute => {
    const match = arr(obj(h)['match']).map((m) => {
      const mo = obj(m);
      const gws = mo['gateways'] === undefined ? undefined : strs(mo['gateways']).map((g) => gatewayRef(g, namespace));
      return { ...(gws ? { gateways: gws } : {}), ...(mo['port'] !== undefined ? { port: Number(mo['port']) } : {}) };
    });
    const dest = obj(obj(arr(obj(h)['route'])[0])['destination']);
    const port = obj(dest['port'])['number'];
    return { match, destination: { host: String(dest['host'] ?? ''), ...(port !== undefined ? { port: Number(port) } : {}) } };
  });
  return { name, namespace, hosts: strs(spec['hosts']), gateways: gateways.length ? gateways : ['mesh'], http };
}

export interface RouteChoice {
  host: string;
  port: number;
  reason: string;
}

/** The first HTTP route of a VirtualService bound to `gateway` (`mesh` or `ns/name`) for host:port. */
export function routeFor(services: readonly VirtualService[], gateway: string, host: string, port: number): RouteChoice | undefined {
  for (const vs of services) {
    if (!vs.gateways.includes(gateway)) continue;
    if (!vs.hosts.some((h) => hostMatches(resolveHost(h, vs.namespace), host))) continue;
    for (const [i, route] of vs.http.entries()) {
      const hit =
        route.match.length === 0 ||
        route.match.some((m) => (!m.gateways || m.gateways.includes(gateway)) && (m.port === undefined || m.port === port));
      if (!hit) continue;
      const dest = resolveHost(route.destination.host, vs.namespace);
      const to = route.destination.port ?? port;
      return {
        host: dest,
        port: to,
        reason: `VirtualService ${vs.namespace}/${vs.name} http[${i}] (gateway ${gateway}) routes ${host}:${port} to ${dest}:${to}`,
      };
    }
  }
  return undefined;
}

/** Does a Gateway server on `port` accept `host`? Hosts may be `*`, `name`, or `ns/name`. */
export function gatewayAccepts(gw: Gateway, port: number, host: string): boolean {
  return gw.servers.some((s) => s.port === port && s.hosts.some((h) => hostMatches(h.includes('/') ? h.slice(h.indexOf('/') + 1) : h, host)));
}

const allowedKeys = (value: unknown, keys: string[], path: string, out: string[]) => {
  for (const k of Object.keys(obj(value))) if (!keys.includes(k)) out.push(`${path}.${k}`);
};

/** Fields of a Gateway or VirtualService manifest the lab does not emulate (empty when fully emulated). */
export function unsupportedRoutingFields(raw: unknown): string[] {
  const r = obj(raw);
  const spec = obj(r['spec']);
  const out: string[] = [];
  if (r['kind'] === 'Gateway') {
    allowedKeys(spec, ['selector', 'servers'], 'spec', out);
    arr(spec['servers']).forEach((s, i) => {
      allowedKeys(s, ['port', 'hosts'], `spec.servers[${i}]`, out);
      allowedKeys(obj(s)['port'], ['number', 'name', 'protocol'], `spec.servers[${i}].port`, out);
      const protocol = String(obj(obj(s)['port'])['protocol'] ?? 'HTTP').toUpperCase();
      if (protocol !== 'HTTP') out.push(`spec.servers[${i}].port.protocol=${protocol}`);
    });
    return out;
  }
  allowedKeys(spec, ['hosts', 'gateways', 'http'], 'spec', out);
  arr(spec['http']).forEach((h, i) => {
    allowedKeys(h, ['match', 'route'], `spec.http[${i}]`, out);
    arr(obj(h)['match']).forEach((m, j) => allowedKeys(m, ['gateways', 'port'], `spec.http[${i}].match[${j}]`, out));
    const routes = arr(obj(h)['route']);
    if (routes.length > 1) out.push(`spec.http[${i}].route[1] (traffic splitting)`);
    routes.forEach((rt, j) => {
      allowedKeys(rt, ['destination', 'weight'], `spec.http[${i}].route[${j}]`, out);
      allowedKeys(obj(rt)['destination'], ['host', 'subset', 'port'], `spec.http[${i}].route[${j}].destination`, out);
    });
  });
  return out;
}
