/**
 * The fidelity matrix's inputs (scripts/fidelity-matrix.*.yaml) and what Istio and Kubernetes say its cells are.
 * Sources: Istio tests/integration/security/authz_test.go TestAuthz_PathNormalization (ALLOW "/public*": the
 * dot-segment and %2e%2e variants of /public/../private denied, /public/../public allowed) with istio.io
 * docs/reference/config/security/normalization (BASE: RFC 3986 dot segments, %2E decoded); kubernetes
 * pkg/apis/networking/v1/defaults.go SetDefaults_NetworkPolicy (and defaults_test.go TestSetDefaultNetworkPolicy);
 * kubernetes test/e2e/network/netpol "should allow ingress access on one named port".
 */
import { loadInputs, type Inputs } from '../../src/cli/common.js';
import { cellKey, matrixFlows, predictMatrix, type Matrix } from '../../src/predict/matrix.js';
import { buildWorld } from '../../src/predict/world.js';
import type { Resource } from '../../src/scenario/schema.js';

export const WORKLOADS = 'scripts/fidelity-matrix.workloads.yaml';
export const POLICIES = 'scripts/fidelity-matrix.policies.yaml';

export async function fidelityInputs(): Promise<Inputs> {
  const loaded = await loadInputs(WORKLOADS, POLICIES);
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  return loaded.value;
}

export function predictFidelity(inputs: Inputs, resources: readonly Resource[] = inputs.resources): Matrix {
  const { world, errors } = buildWorld({ ...inputs.input, resources });
  if (errors.length) throw new Error(errors.join('\n'));
  return predictMatrix(world, matrixFlows(world, ['tcp', 'udp', 'http'], inputs.paths));
}

/** The predicted reach of one cell (path: the http request target, absent for `/`). */
export function reachOf(m: Matrix, from: string, to: string, port: number, protocol: 'tcp' | 'udp' | 'http', path?: string): boolean {
  const key = cellKey({ from, to, port, protocol, ...(path !== undefined ? { path } : {}) });
  const cell = m.cells.find((c) => cellKey(c.flow) === key);
  if (!cell) throw new Error(`no cell ${key}`);
  return cell.prediction.reach;
}

/** `policytypes-empty` (defaulted to [Ingress], deny all ingress) flipped to policyTypes [Egress]. */
export function flipPolicyTypes(resources: readonly Resource[]): Resource[] {
  return resources.map((r) =>
    r.metadata.name === 'policytypes-empty' ? ({ ...r, spec: { ...(r.spec as object), policyTypes: ['Egress'] } } as Resource) : r,
  );
}
