/** Clusters: RequestAuthentication rules without keys get the run's JWKS inline; probes carry the run's tokens. */
import { describe, expect, test } from '@jest/globals';
import { authenticateRequest, parseResource, runIssuer, type RequestAuthentication } from '../../../src/model/index.js';
import { probeRequest } from '../../../src/targets/k8s/exec-probe.js';
import { renderScenario } from '../../../src/targets/k8s/manifests.js';
import { scenario as scenarioSchema } from '../../../src/scenario/schema.js';

const scenario = scenarioSchema.parse({
  apiVersion: 'meshprobe.io/v1',
  kind: 'Scenario',
  metadata: { name: 'jwt' },
  spec: {
    namespaces: [{ name: 'app' }],
    workloads: [
      { name: 'client', namespace: 'app' },
      { name: 'server', namespace: 'app', ports: [{ port: 8080, protocol: 'http' }] },
    ],
    resources: [
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'RequestAuthentication',
        metadata: { name: 'jwt', namespace: 'app' },
        spec: {
          selector: { matchLabels: { app: 'server' } },
          jwtRules: [{ issuer: 'lab' }, { issuer: 'own', jwks: '{"keys":[]}' }, { issuer: 'remote', jwksUri: 'https://idp.example.com/jwks' }],
        },
      },
    ],
    probes: [
      { name: 'p', from: 'app/client', to: 'app/server', port: 8080, protocol: 'http', http: { jwt: { subject: 'alice' } }, expect: { reach: true } },
    ],
  },
});

describe('JWT on clusters', () => {
  const rendered = renderScenario(scenario, { runId: 'r1', agentBundle: '// agent bundle\n' });
  const manifest = rendered.resources[0] as unknown as { spec: { jwtRules: Array<Record<string, unknown>> } };

  test('render fills the run JWKS into rules without keys only', () => {
    expect(manifest.spec.jwtRules[0]?.['jwks']).toBe(runIssuer().jwks);
    expect(manifest.spec.jwtRules[1]?.['jwks']).toBe('{"keys":[]}');
    expect(manifest.spec.jwtRules[2]).toEqual({ issuer: 'remote', jwksUri: 'https://idp.example.com/jwks' });
  });

  test("the probe request carries a token that the rendered policy's inline JWKS verifies", () => {
    const req = probeRequest(scenario, rendered.map, { probe: scenario.spec.probes[0] as never, nonce: 'n1', attempt: 1 });
    expect(req.http).not.toHaveProperty('jwt');
    const authorization = req.http?.headers?.['Authorization'] ?? '';
    expect(authorization).toMatch(/^Bearer /);
    const parsed = parseResource(manifest);
    if (!parsed.ok) throw new Error(parsed.error);
    const policy = parsed.resource as RequestAuthentication;
    const ns = (manifest as unknown as { metadata: { namespace: string } }).metadata.namespace;
    // Verified against the inline JWKS only (no default keys): what Envoy on the cluster does.
    const d = authenticateRequest(
      { headers: { authorization }, path: '/' },
      [policy],
      { namespace: ns, labels: { app: 'server' } },
      '{"keys":[]}',
      Math.floor(Date.now() / 1000),
    );
    expect(d).toMatchObject({ kind: 'authenticated', auth: { principal: 'lab/alice' } });
  });
});
