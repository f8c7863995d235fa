/**
 * What the lab emulates, and the refusals for everything else (pure). Part 1 of the lab emulates Kubernetes
 * NetworkPolicy and Istio's capture annotations; other resource kinds and Istio annotations are refused by name
 * rather than silently ignored.
 */
import type { Scenario } from '../../scenario/schema.js';
import { UnsupportedError } from '../target.js';
import { ANNOTATION_PREFIX, CAPTURE_ANNOTATIONS, CaptureConfigError, captureConfigFromAnnotations } from './capture.js';
import { parseNetworkPolicy, type NetworkPolicy } from './netpol.js';

const KIND_HINT = 'run this scenario with --target kind';
/** Annotation prefixes that change what Istio does; any of them the lab does not emulate is refused. */
const ISTIO_ANNOTATION = /^([a-z0-9.-]*\.)?istio\.io\//;

export function checkScenario(scenario: Scenario): NetworkPolicy[] {
  const { spec } = scenario;
  if (spec.mesh?.outboundTrafficPolicy === 'REGISTRY_ONLY') {
    throw new UnsupportedError('spec.mesh.outboundTrafficPolicy', 'spec.mesh.outboundTrafficPolicy: REGISTRY_ONLY is not emulated by the lab yet', KIND_HINT);
  }
  spec.workloads.forEach((w, i) => {
    for (const name of Object.keys(w.annotations ?? {})) {
      const emulated = name.startsWith(ANNOTATION_PREFIX) && (CAPTURE_ANNOTATIONS as readonly string[]).includes(name.slice(ANNOTATION_PREFIX.length));
      if (ISTIO_ANNOTATION.test(name) && !emulated) {
        throw new UnsupportedError(`spec.workloads[${i}].annotations.${name}`, `workload ${w.namespace}/${w.name}: annotation ${name} is not emulated by the lab`, KIND_HINT);
      }
    }
    try {
      captureConfigFromAnnotations(w.annotations);
    } catch (err) {
      if (!(err instanceof CaptureConfigError)) throw err;
      throw new UnsupportedError(`spec.workloads[${i}].annotations.${err.annotation}`, `workload ${w.namespace}/${w.name}: ${err.message}`);
    }
  });
  spec.probes.forEach((p, i) => {
    for (const field of ['mtls', 'peer'] as const) {
      if (p.expect[field] !== undefined && p.expect[field] !== false) {
        throw new UnsupportedError(`spec.probes[${i}].expect.${field}`, `probe ${p.name}: expect.${field} needs mutual TLS between sidecars, which the lab does not emulate yet`, KIND_HINT);
      }
    }
  });
  const policies: NetworkPolicy[] = [];
  spec.resources.forEach((r, i) => {
    if (r.kind !== 'NetworkPolicy' || r.apiVersion !== 'networking.k8s.io/v1') {
      throw new UnsupportedError(`spec.resources[${i}]`, `resource ${r.apiVersion} ${r.kind} ${r.metadata.name}: the lab does not emulate ${r.kind} yet (it emulates networking.k8s.io/v1 NetworkPolicy)`, KIND_HINT);
    }
    const defaultNs = spec.namespaces[0]?.name ?? 'default';
    policies.push(parseNetworkPolicy(r, defaultNs));
  });
  return policies;
}
