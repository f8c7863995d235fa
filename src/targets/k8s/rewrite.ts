/**
 * The consistent rewrite of namespace references in a scenario's resources (forward) and in what the cluster
 * reports back (reverse). Pure: the same map and resource always give the same result.
 *
 * Rewritten: `namespace` fields (metadata.namespace, subjects[].namespace), `namespaces`/`notNamespaces`
 * (exact names and prefix patterns `app*`), `principals`/`notPrincipals` and `source.principal` conditions
 * (`<td>/ns/<ns>/sa/<sa>`, also with `spiffe://`), `host`/`hosts` (`<ns>/<host>` of Sidecar and Gateway, and
 * service names `<svc>.<ns>`, `<svc>.<ns>.svc`, `<svc>.<ns>.svc.cluster.local`), VirtualService `gateways`,
 * `exportTo`, `source.namespace` conditions and NetworkPolicy `namespaceSelector` on kubernetes.io/metadata.name.
 * Not rewritten: label selectors (workloadSelector, selector, podSelector), names the scenario does not declare
 * (istio-system, the root namespace, stays exactly as written), suffix patterns `*-prod` (every mapped name keeps
 * its suffix, so they match the same namespaces).
 */
import type { NamespaceMap } from './names.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type Direction = 'forward' | 'reverse';
const NS_NAME_LABEL = 'kubernetes.io/metadata.name';
const SKIP_KEYS = new Set(['selector', 'workloadSelector', 'podSelector', 'labels', 'annotations', 'matchLabels']);

/** Maps one exact namespace name; names the scenario did not declare stay as they are. */
export function mapNamespace(map: NamespaceMap, ns: string, dir: Direction = 'forward'): string {
  return (dir === 'forward' ? map.forward : map.reverse).get(ns) ?? ns;
}

/** `app` → mapped, `ap*` (prefix pattern) → `<prefix>ap*`, `*` and `*-x` (suffix patterns) unchanged. */
export function mapNamespacePattern(map: NamespaceMap, value: string, dir: Direction = 'forward'): string {
  if (value.startsWith('*')) return value;
  if (value.endsWith('*')) {
    if (dir === 'forward') return map.prefix + value;
    return value.startsWith(map.prefix) ? value.slice(map.prefix.length) : value;
  }
  return mapNamespace(map, value, dir);
}

const PRINCIPAL = /^(spiffe:\/\/)?([^/]*)\/ns\/([^/]+)(\/.*)?$/;

/** `cluster.local/ns/app/sa/x`, `spiffe://…`, `*\/ns/app/sa/*`, `cluster.local/ns/app/*`, `…/ns/ap*`. */
export function mapPrincipal(map: NamespaceMap, value: string, dir: Direction = 'forward'): string {
  const m = PRINCIPAL.exec(value);
  if (!m) return value;
  const [, scheme = '', trustDomain, ns, rest = ''] = m;
  return `${scheme}${trustDomain}/ns/${mapNamespacePattern(map, ns, dir)}${rest}`;
}

/** Service FQDN forms whose second label is a namespace; anything else (externals, `*`, short names) unchanged. */
export function mapServiceHost(map: NamespaceMap, host: string, dir: Direction = 'forward'): string {
  const labels = host.split('.');
  if (labels.length < 2) return host;
  const tail = labels.slice(2).join('.');
  const isService = labels.length === 2 || tail === 'svc' || tail === 'svc.cluster.local';
  if (!isService) return host;
  const known = dir === 'forward' ? map.forward : map.reverse;
  if (!known.has(labels[1])) return host;
  return [labels[0], mapNamespace(map, labels[1], dir), ...labels.slice(2)].join('.');
}

/** `host` / `hosts` values: `<ns>/<host>` (Sidecar, Gateway; `.`, `*`, `~` kept) or a plain host. */
export function mapHost(map: NamespaceMap, value: string, dir: Direction = 'forward'): string {
  const slash = value.indexOf('/');
  if (slash < 0) return mapServiceHost(map, value, dir);
  const ns = value.slice(0, slash);
  const host = value.slice(slash + 1);
  const mappedNs = ns === '.' || ns === '~' ? ns : mapNamespacePattern(map, ns, dir);
  return `${mappedNs}/${mapServiceHost(map, host, dir)}`;
}

/** VirtualService `gateways`: `mesh`, `<gw>` (same namespace) or `<ns>/<gw>`. */
function mapGateway(map: NamespaceMap, value: string, dir: Direction): string {
  const slash = value.indexOf('/');
  if (slash < 0) return value;
  return `${mapNamespace(map, value.slice(0, slash), dir)}${value.slice(slash)}`;
}

function mapExportTo(map: NamespaceMap, value: string, dir: Direction): string {
  return value === '.' || value === '*' || value === '~' ? value : mapNamespace(map, value, dir);
}

function mapStrings(value: Json, fn: (s: string) => string): Json {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? fn(v) : v));
  return value;
}

function mapNamespaceSelector(map: NamespaceMap, selector: Json, dir: Direction): Json {
  if (selector === null || typeof selector !== 'object' || Array.isArray(selector)) return selector;
  const out: { [key: string]: Json } = { ...selector };
  const labels = selector.matchLabels;
  if (labels && typeof labels === 'object' && !Array.isArray(labels) && typeof labels[NS_NAME_LABEL] === 'string') {
    out.matchLabels = { ...labels, [NS_NAME_LABEL]: mapNamespace(map, labels[NS_NAME_LABEL], dir) };
  }
  if (Array.isArray(selector.matchExpressions)) {
    out.matchExpressions = selector.matchExpressions.map((e) => {
      if (e === null || typeof e !== 'object' || Array.isArray(e) || e.key !== NS_NAME_LABEL) return e;
      return { ...e, values: mapStrings(e.values ?? [], (s) => mapNamespace(map, s, dir)) };
    });
  }
  return out;
}

/** AuthorizationPolicy `when` conditions on the source's namespace or principal. */
function mapCondition(map: NamespaceMap, cond: Json, dir: Direction): Json {
  if (cond === null || typeof cond !== 'object' || Array.isArray(cond)) return cond;
  const fn =
    cond.key === 'source.namespace'
      ? (s: string) => mapNamespacePattern(map, s, dir)
      : cond.key === 'source.principal'
        ? (s: string) => mapPrincipal(map, s, dir)
        : undefined;
  if (!fn) return walk(map, cond, dir);
  const out: { [key: string]: Json } = { ...cond };
  if (cond.values !== undefined) out.values = mapStrings(cond.values, fn);
  if (cond.notValues !== undefined) out.notValues = mapStrings(cond.notValues, fn);
  return out;
}

function rewriteField(map: NamespaceMap, key: string, value: Json, dir: Direction): Json {
  switch (key) {
    case 'namespace':
      return mapStrings(value, (s) => mapNamespace(map, s, dir));
    case 'namespaces':
    case 'notNamespaces':
      return mapStrings(value, (s) => mapNamespacePattern(map, s, dir));
    case 'principals':
    case 'notPrincipals':
      return mapStrings(value, (s) => mapPrincipal(map, s, dir));
    case 'host':
    case 'hosts':
    case 'notHosts':
      return mapStrings(value, (s) => mapHost(map, s, dir));
    case 'gateways':
      return mapStrings(value, (s) => mapGateway(map, s, dir));
    case 'exportTo':
      return mapStrings(value, (s) => mapExportTo(map, s, dir));
    case 'namespaceSelector':
      return mapNamespaceSelector(map, value, dir);
    case 'when':
      return Array.isArray(value) ? value.map((c) => mapCondition(map, c, dir)) : value;
    default:
      return SKIP_KEYS.has(key) ? value : walk(map, value, dir);
  }
}

function walk(map: NamespaceMap, value: Json, dir: Direction): Json {
  if (Array.isArray(value)) return value.map((v) => walk(map, v, dir));
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const [key, v] of Object.entries(value)) out[key] = rewriteField(map, key, v, dir);
  return out;
}

/** Rewrites every namespace reference in a manifest (deep copy; the input is not modified). */
export function rewriteResource<T extends object>(map: NamespaceMap, resource: T, dir: Direction = 'forward'): T {
  return walk(map, resource as unknown as Json, dir) as unknown as T;
}

/** Shows a cluster string (identity, XFCC header, host) in the scenario's own names. */
export function reverseText(map: NamespaceMap, text: string): string {
  let out = text;
  // Longest first, so `mp-x-app2` is not turned into `app` + `2` by the shorter `mp-x-app`.
  const entries = [...map.reverse.entries()].sort((a, b) => b[0].length - a[0].length);
  for (const [cluster, own] of entries) out = out.split(cluster).join(own);
  return out;
}
