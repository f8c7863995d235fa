/**
 * Externals on kind: each runs the probe agent in a container on the `kind` docker network (testcontainers),
 * and CoreDNS answers its name with the container's address. Shared by name across scenarios of one run.
 */
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import type { Observation } from '../../probe/types.js';
import type { Scenario } from '../../scenario/schema.js';
import type { ExternalsHost } from '../k8s/cluster.js';
import { parseQueryOutput, queryCommand } from '../k8s/exec-probe.js';
import type { Kube } from '../k8s/kube.js';
import { AGENT_PATH, CONTROL_SOCKET, type Manifest } from '../k8s/manifests.js';
import { TargetError, UnsupportedError } from '../target.js';
import { corefileWithHosts } from './plan.js';

interface Running {
  container: StartedTestContainer;
  ip: string;
  ports: string;
  users: number;
}

export class KindExternals implements ExternalsHost {
  private running = new Map<string, Running>();

  constructor(private readonly kube: Kube, private readonly image: string) {}

  async start(scenario: Scenario, signal?: AbortSignal): Promise<void> {
    for (const e of scenario.spec.externals) {
      const ports = JSON.stringify(e.ports);
      const have = this.running.get(e.name);
      if (have) {
        if (have.ports !== ports) throw new TargetError(`external ${e.name} is already running with other ports in this run`, 'give externals with different ports different names');
        have.users++;
        continue;
      }
      if (e.ports.some((p) => p.protocol === 'https')) throw new UnsupportedError('spec.externals[].ports[].protocol', `external ${e.name}: https externals need certificates the kind target does not issue yet`, 'use --target lab');
      if (signal?.aborted) throw new TargetError('interrupted');
      const config = JSON.stringify({ name: e.name, ports: e.ports.map((p) => ({ port: p.port, protocol: p.protocol })), control: CONTROL_SOCKET });
      const container = await new GenericContainer(this.image)
        .withNetworkMode('kind')
        .withCopyContentToContainer([{ content: config, target: '/etc/meshprobe/config.json' }])
        .withCommand(['node', AGENT_PATH, 'serve', '--config', '/etc/meshprobe/config.json'])
        .withLabels({ 'app.kubernetes.io/managed-by': 'meshprobe' })
        .start();
      this.running.set(e.name, { container, ip: container.getIpAddress('kind'), ports, users: 1 });
    }
    await this.publishNames();
  }

  async query(name: string, nonces: string[]): Promise<Observation[]> {
    const r = this.running.get(name);
    if (!r) throw new TargetError(`external ${name} is not running`);
    const out = await r.container.exec(queryCommand(nonces));
    const status = out.exitCode === 0 ? { status: 'Success' } : { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(out.exitCode) }] } };
    return parseQueryOutput(`external ${name}`, { stdout: out.stdout, stderr: out.stderr, status });
  }

  async stop(scenario: Scenario): Promise<void> {
    for (const e of scenario.spec.externals) {
      const r = this.running.get(e.name);
      if (!r || --r.users > 0) continue;
      this.running.delete(e.name);
      await r.container.stop();
    }
    if (scenario.spec.externals.length) await this.publishNames();
  }

  /** CoreDNS in kind reloads its Corefile on change (the `reload` plugin), so names resolve within ~30 s. */
  private async publishNames(): Promise<void> {
    const cm = await this.kube.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'coredns' });
    const entries = [...this.running.entries()].map(([name, r]) => ({ name, ip: r.ip }));
    const corefile = corefileWithHosts(cm.data?.Corefile ?? '', entries);
    const manifest: Manifest = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: 'kube-system' }, data: { Corefile: corefile } };
    await this.kube.apply(manifest);
  }
}
