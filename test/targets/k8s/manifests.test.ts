import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { scenario as scenarioSchema, type Scenario } from '../../../src/scenario/schema.js';
import { allManifests, renderScenario, RenderError, type Manifest } from '../../../src/targets/k8s/manifests.js';
import { validateManifest } from './schema-validate.js';
import { validateResource } from '../../../src/scenario/resources.js';
import { registryOnly, strictMtls } from './fixtures.js';

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

/** The built-in suite (whatever exists under scenarios/ when the test runs) plus the fixtures. */
function allScenarios(): Array<[string, Scenario]> {
  const out: Array<[string, Scenario]> = [
    ['fixture strict', strictMtls()],
    ['fixture registry-only', registryOnly()],
  ];
  for (const file of yamlFiles(path.resolve('scenarios'))) {
    for (const doc of YAML.parseAllDocuments(readFileSync(file, 'utf8'))) {
      const parsed = scenarioSchema.safeParse(doc.toJS());
      if (parsed.success) out.push([`${path.relative('.', file)}#${parsed.data.metadata.name}`, parsed.data]);
    }
  }
  return out;
}

/** Render options with a stand-in for the agent bundle the stock mode mounts. */
const OPTS = { runId: 'r1', agentBundle: '// agent bundle\n' };

const find = (ms: Manifest[], kind: string, name: string) => ms.find((m) => m.kind === kind && m.metadata.name === name)!;

describe('renderScenario', () => {
  test.each(allScenarios())('%s: every manifest validates against the Kubernetes / Istio schema', async (_name, scenario) => {
    const rendered = renderScenario(scenario, OPTS);
    const manifests = allManifests(rendered);
    expect(manifests.length).toBeGreaterThan(scenario.spec.namespaces.length);
    for (const m of manifests) await expect(validateManifest(m)).resolves.toBeUndefined();
    // the rewritten resources also pass the scenario loader's own resource check (schema + unknown fields)
    for (const m of rendered.resources) expect(await validateResource(m)).toEqual([]);
    // Nothing lands outside the run's namespaces except what the scenario itself puts in the root namespace.
    const own = new Set(rendered.map.forward.values());
    for (const m of manifests) {
      const ns = m.kind === 'Namespace' ? m.metadata.name : m.metadata.namespace!;
      expect(own.has(ns) || ns === 'istio-system').toBe(true);
    }
  });

  test('the schema check can fail: a Deployment with a bad field is rejected', async () => {
    const d = find(allManifests(renderScenario(strictMtls(), OPTS)), 'Deployment', 'server');
    await expect(validateManifest({ ...d, spec: { replicas: 'one' } })).rejects.toThrow();
  });

  test('namespaces carry the injection label and the run labels', () => {
    const r = renderScenario(strictMtls(), OPTS);
    const app = find(r.namespaces, 'Namespace', r.map.forward.get('app')!);
    const legacy = find(r.namespaces, 'Namespace', r.map.forward.get('legacy')!);
    expect(app.metadata.labels).toMatchObject({
      'istio-injection': 'enabled',
      'meshprobe.io/run': 'r1',
      'app.kubernetes.io/managed-by': 'meshprobe',
    });
    expect(legacy.metadata.labels!['istio-injection']).toBe('disabled');
  });

  test('a sidecar workload in a namespace without injection: no disabled label, the pod opts in', () => {
    const s = strictMtls();
    s.spec.workloads[1] = { ...s.spec.workloads[1], sidecar: true };
    const r = renderScenario(s, OPTS);
    expect(find(r.namespaces, 'Namespace', r.map.forward.get('legacy')!).metadata.labels!['istio-injection']).toBeUndefined();
    const d = find(r.workloads, 'Deployment', 'client') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } };
    expect(d.spec.template.metadata.labels['sidecar.istio.io/inject']).toBe('true');
  });

  test('workload: ServiceAccount, agent config, uid, capabilities, annotations, labels, Service ports named by protocol', () => {
    const r = renderScenario(strictMtls(), { ...OPTS, image: 'example/probe:1' });
    expect(find(r.workloads, 'ServiceAccount', 'caller').metadata.namespace).toBe(r.map.forward.get('app'));
    const d = find(r.workloads, 'Deployment', 'server') as unknown as {
      spec: {
        template: {
          metadata: { labels: Record<string, string>; annotations: Record<string, string> };
          spec: { serviceAccountName: string; containers: Array<Record<string, unknown>> };
        };
      };
    };
    const pod = d.spec.template;
    expect(pod.metadata.labels).toMatchObject({ app: 'server', 'meshprobe.io/workload': 'server', 'sidecar.istio.io/inject': 'true' });
    expect(pod.metadata.annotations).toEqual({ 'traffic.sidecar.istio.io/excludeInboundPorts': '9090' });
    expect(pod.spec.serviceAccountName).toBe('server');
    const c = pod.spec.containers[0];
    // no probe needs ping, iptables or setpriv: the stock image, the agent mounted from the run's ConfigMap
    expect(c.image).toBe('node:22-slim');
    expect(c.command).toEqual(['node', '/agent/meshprobe-agent.mjs', 'serve', '--config', '/etc/meshprobe/config.json']);
    expect(c.volumeMounts).toContainEqual({ name: 'agent', mountPath: '/agent', readOnly: true });
    expect(c.securityContext).toEqual({ runAsUser: 1000, runAsGroup: 1000, capabilities: { add: ['NET_ADMIN'] } });
    const config = JSON.parse((find(r.workloads, 'ConfigMap', 'server-agent').data as Record<string, string>)['config.json']);
    expect(config).toMatchObject({
      ports: [
        { port: 8080, protocol: 'http' },
        { port: 9090, protocol: 'tcp' },
        { port: 5353, protocol: 'udp' },
      ],
      behindSidecar: true,
    });
    const svc = find(r.workloads, 'Service', 'server').spec as { ports: Array<{ name: string; protocol: string }> };
    expect(svc.ports.map((p) => `${p.name}/${p.protocol}`)).toEqual(['http-8080/TCP', 'tcp-9090/TCP', 'udp-5353/UDP']);
    expect(r.workloads.some((m) => m.kind === 'Service' && m.metadata.name === 'client')).toBe(false);
  });

  test('named ports: Service and container use the declared name; one number on TCP and UDP renders both', async () => {
    const s = strictMtls();
    s.spec.workloads[0].ports = [
      { port: 8080, protocol: 'http', name: 'http-web' },
      { port: 9090, protocol: 'tcp', name: 'metrics' },
      { port: 53, protocol: 'udp', name: 'dns-udp' },
      { port: 53, protocol: 'tcp', name: 'dns-tcp' },
      { port: 5353, protocol: 'udp' },
      { port: 5353, protocol: 'tcp' },
    ];
    s.spec.probes = s.spec.probes.filter((p) => p.to !== 'app/server' || p.port === 8080);
    const r = renderScenario(s, OPTS);
    const svc = find(r.workloads, 'Service', 'server');
    for (const m of allManifests(r)) await expect(validateManifest(m)).resolves.toBeUndefined();
    // A name without an Istio protocol prefix gets appProtocol, which Istio reads before the name.
    expect((svc.spec as { ports: unknown[] }).ports).toEqual([
      { name: 'http-web', port: 8080, targetPort: 8080, protocol: 'TCP' },
      { name: 'metrics', port: 9090, targetPort: 9090, protocol: 'TCP', appProtocol: 'tcp' },
      { name: 'dns-udp', port: 53, targetPort: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP', appProtocol: 'tcp' },
      { name: 'udp-5353', port: 5353, targetPort: 5353, protocol: 'UDP' },
      { name: 'tcp-5353', port: 5353, targetPort: 5353, protocol: 'TCP' },
    ]);
    const d = find(r.workloads, 'Deployment', 'server') as unknown as { spec: { template: { spec: { containers: Array<{ ports: unknown[] }> } } } };
    expect(d.spec.template.spec.containers[0].ports).toEqual([
      { containerPort: 8080, protocol: 'TCP', name: 'http-web' },
      { containerPort: 9090, protocol: 'TCP', name: 'metrics' },
      { containerPort: 53, protocol: 'UDP', name: 'dns-udp' },
      { containerPort: 53, protocol: 'TCP', name: 'dns-tcp' },
      { containerPort: 5353, protocol: 'UDP', name: 'p5353-udp' },
      { containerPort: 5353, protocol: 'TCP', name: 'p5353' },
    ]);
  });

  test('probes run as another uid run the source container as uid 0 with SETUID/SETGID', () => {
    const s = strictMtls();
    s.spec.probes[1] = { ...s.spec.probes[1], as: { user: 1337 } };
    const r = renderScenario(s, OPTS);
    const d = find(r.workloads, 'Deployment', 'meshclient') as unknown as {
      spec: { template: { spec: { containers: Array<{ securityContext?: unknown }> } } };
    };
    expect(d.spec.template.spec.containers[0].securityContext).toEqual({ runAsUser: 0, runAsGroup: 0, capabilities: { add: ['SETUID', 'SETGID'] } });
  });

  test('resources are rewritten into the run namespaces (principals included)', () => {
    const r = renderScenario(strictMtls(), OPTS);
    const app = r.map.forward.get('app')!;
    const ap = find(r.resources, 'AuthorizationPolicy', 'allow-caller') as unknown as {
      metadata: { namespace: string };
      spec: { rules: Array<{ from: Array<{ source: { principals: string[] } }> }> };
    };
    expect(ap.metadata.namespace).toBe(app);
    expect(ap.spec.rules[0].from[0].source.principals).toEqual([`cluster.local/ns/${app}/sa/caller`]);
  });

  test('a resource without metadata.namespace is refused with its name', () => {
    const s = strictMtls();
    s.spec.resources.push({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'nons' } });
    expect(() => renderScenario(s, OPTS)).toThrow(RenderError);
    expect(() => renderScenario(s, OPTS)).toThrow(/PeerAuthentication nons/);
  });
});
