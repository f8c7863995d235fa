/** Example scenarios for the cluster targets' tests (parsed with the real schema, so defaults apply). */
import { scenario as scenarioSchema, type Scenario, type ScenarioInput } from '../../../src/scenario/schema.js';

export function strictMtls(overrides: Partial<ScenarioInput['spec']> = {}): Scenario {
  return scenarioSchema.parse({
    apiVersion: 'meshprobe.io/v1',
    kind: 'Scenario',
    metadata: { name: 'strict-rejects-plaintext', title: 'STRICT rejects plaintext' },
    spec: {
      namespaces: [{ name: 'app' }, { name: 'legacy', sidecarInjection: false }],
      workloads: [
        {
          name: 'server',
          namespace: 'app',
          labels: { app: 'server' },
          annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '9090' },
          runAsUser: 1000,
          capabilities: ['NET_ADMIN'],
          ports: [
            { port: 8080, protocol: 'http' },
            { port: 9090, protocol: 'tcp' },
            { port: 5353, protocol: 'udp' },
          ],
        },
        { name: 'client', namespace: 'legacy' },
        { name: 'meshclient', namespace: 'app', serviceAccount: 'caller' },
      ],
      resources: [
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'PeerAuthentication',
          metadata: { name: 'default', namespace: 'app' },
          spec: { mtls: { mode: 'STRICT' } },
        },
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'allow-caller', namespace: 'app' },
          spec: {
            selector: { matchLabels: { app: 'server' } },
            action: 'ALLOW',
            rules: [{ from: [{ source: { principals: ['cluster.local/ns/app/sa/caller'] } }] }],
          },
        },
      ],
      probes: [
        {
          name: 'plaintext-from-legacy',
          from: 'legacy/client',
          to: 'app/server',
          port: 8080,
          protocol: 'http',
          expect: { reach: false, failure: 'reset' },
        },
        { name: 'mtls-from-mesh', from: 'app/meshclient', to: 'app/server', port: 8080, protocol: 'http', expect: { reach: true, mtls: true } },
        { name: 'to-partner', from: 'app/meshclient', to: 'api.partner.test', port: 80, protocol: 'http', expect: { reach: true } },
      ],
      externals: [{ name: 'api.partner.test', ports: [{ port: 80, protocol: 'http' }] }],
      ...overrides,
    },
  });
}

export function registryOnly(): Scenario {
  const s = strictMtls();
  return { ...s, metadata: { ...s.metadata, name: 'registry-only-blocks' }, spec: { ...s.spec, mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' } } };
}

/** The strict scenario without the external (for the existing target, which cannot run externals). */
export function inMeshOnly(): Scenario {
  const s = strictMtls();
  return { ...s, spec: { ...s.spec, externals: [], probes: s.spec.probes.filter((p) => p.to !== 'api.partner.test') } };
}
