/** Builders for raw manifests as a scenario's `resources` hold them, parsed through the real parser. */
import { parseResource, type IstioResource } from '../../src/model/index.js';

export function manifest(
  kind: string,
  namespace: string,
  name: string,
  spec: object,
  extra: { creationTimestamp?: string; apiVersion?: string } = {},
): object {
  const group = ['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'].includes(kind) ? 'security.istio.io' : 'networking.istio.io';
  return {
    apiVersion: extra.apiVersion ?? `${group}/v1`,
    kind,
    metadata: { name, namespace, ...(extra.creationTimestamp ? { creationTimestamp: extra.creationTimestamp } : {}) },
    spec,
  };
}

export function parsed<K extends IstioResource['kind']>(
  kind: K,
  namespace: string,
  name: string,
  spec: object,
  order = 0,
  creationTimestamp?: string,
): Extract<IstioResource, { kind: K }> {
  const result = parseResource(manifest(kind, namespace, name, spec, { creationTimestamp }), order);
  if (!result.ok) throw new Error(result.error);
  if (result.resource.kind !== kind) throw new Error(`expected ${kind}`);
  return result.resource as Extract<IstioResource, { kind: K }>;
}

export const SLEEP_FOO = 'cluster.local/ns/foo/sa/sleep';
export const SLEEP_BAR = 'cluster.local/ns/bar/sa/sleep';
