/**
 * Externals on kind: each runs the agent in a container on the `kind` docker network (testcontainers),
 * and CoreDNS answers its name with the container's address. Shared by name across scenarios of one run.
 * A start returns only once the agent printed `ready` and every name resolves to its container from inside the
 * cluster: kubelet projects the Corefile change within about a minute and CoreDNS reloads every 30 ± 15 s.
 */
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import type { Observation } from '../../agent/types.js';
import type { Scenario } from '../../scenario/schema.js';
import type { ExternalsHost, InClusterResolver } from '../k8s/cluster.js';
import { parseQueryOutput, queryCommand } from '../k8s/exec-probe.js';
import type { Kube } from '../k8s/kube.js';
import type { Manifest } from '../k8s/manifests.js';
import { TargetError, UnsupportedError } from '../target.js';
import { corefileWithHosts } from './plan.js';

/** In the image's working directory, which its unprivileged user owns (the pods' /tmp/meshprobe is a volume). */
export const EXTERNAL_CONTROL = '/tmp/meshprobe-control.sock';

interface Running {
  container: StartedTestContainer;
  ip: string;
  ports: string;
  users: number;
}

export interface KindExternalsOptions {
  /** Docker network the containers join (kind's nodes are on `kind`). */
  network?: string;
  /** How long a name may take to appear in (or leave) cluster DNS. */
  dnsTimeoutMs?: number;
  dnsPollMs?: number;
  startTimeoutMs?: number;
}

export function externalConfig(e: Scenario['spec']['externals'][number]): string {
  return JSON.stringify({ name: e.name, ports: e.ports.map((p) => ({ port: p.port, protocol: p.protocol })), control: EXTERNAL_CONTROL });
}

export class KindExternals implements ExternalsHost {
  private running = new Map<string, Running>();

  constructor(
    private readonly kube: Kube | undefined,
    private readonly image: string,
    private readonly options: KindExternalsOptions = {},
  ) {}

  async start(scenario: Scenario, signal?: AbortSignal, resolve?: InClusterResolver): Promise<void> {
    for (const e of scenario.spec.externals) {
      const ports = JSON.stringify(e.ports);
      const have = this.running.get(e.name);
      if (have) {
        if (have.ports !== ports)
          throw new TargetError(
            `external ${e.name} is already running with other ports in this run`,
            'give externals with different ports different names',
          );
        have.users++;
        continue;
      }
      if (e.ports.some((p) => p.protocol === 'https'))
        throw new UnsupportedError(
          'spec.externals[].ports[].protocol',
          `external ${e.name}: https externals need certificates the kind target does not issue yet`,
          'use --target lab',
        );
      if (signal?.aborted) throw new TargetError('interrupted');
      const network = this.options.network ?? 'kind';
      let container: StartedTestContainer;
      try {
        // The image's ENTRYPOINT is the agent: the command is only its arguments.
        container = await new GenericContainer(this.image)
          .withNetworkMode(network)
          .withCopyContentToContainer([{ content: externalConfig(e), target: '/etc/meshprobe/config.json', mode: 0o644 }])
          .withCommand(['serve', '--config', '/etc/meshprobe/config.json'])
          .withLabels({ 'app.kubernetes.io/managed-by': 'meshprobe' })
          .withWaitStrategy(Wait.forLogMessage(/^ready$/m))
          .withStartupTimeout(this.options.startTimeoutMs ?? 60_000)
          .start();
      } catch (err) {
        throw new TargetError(
          `external ${e.name} did not start (image ${this.image}): ${(err as Error).message}`,
          'check the image runs `serve` (docker run IMAGE serve --config …) and the docker network exists',
        );
      }
      this.running.set(e.name, { container, ip: container.getIpAddress(network), ports, users: 1 });
    }
    if (!scenario.spec.externals.length) return;
    await this.publishNames();
    if (resolve) for (const e of scenario.spec.externals) await this.waitName(e.name, this.running.get(e.name)!.ip, resolve, signal);
  }

  async query(name: string, nonces: string[]): Promise<Observation[]> {
    const r = this.running.get(name);
    if (!r) throw new TargetError(`external ${name} is not running`);
    const out = await r.container.exec(queryCommand(nonces, EXTERNAL_CONTROL));
    const status =
      out.exitCode === 0
        ? { status: 'Success' }
        : { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(out.exitCode) }] } };
    return parseQueryOutput(`external ${name}`, { stdout: out.stdout, stderr: out.stderr, status });
  }

  /** Address of a running external (for tests and diagnostics). */
  address(name: string): string | undefined {
    return this.running.get(name)?.ip;
  }

  async stop(scenario: Scenario, resolve?: InClusterResolver): Promise<void> {
    const gone: string[] = [];
    for (const e of scenario.spec.externals) {
      const r = this.running.get(e.name);
      if (!r || --r.users > 0) continue;
      this.running.delete(e.name);
      gone.push(e.name);
      await r.container.stop();
    }
    if (!gone.length) return;
    await this.publishNames();
    if (resolve) for (const name of gone) await this.waitName(name, undefined, resolve);
  }

  /** Polls until `name` resolves to `ip` (or, without ip, resolves no more) from inside the cluster. */
  private async waitName(name: string, ip: string | undefined, resolve: InClusterResolver, signal?: AbortSignal): Promise<void> {
    const timeout = this.options.dnsTimeoutMs ?? 150_000;
    const deadline = Date.now() + timeout;
    let seen: string[] = [];
    for (;;) {
      seen = await resolve(name, signal);
      if (ip ? seen.includes(ip) : seen.length === 0) return;
      if (Date.now() > deadline || signal?.aborted) break;
      await new Promise((r) => setTimeout(r, this.options.dnsPollMs ?? 2_000));
    }
    throw new TargetError(
      `${name} ${ip ? `did not resolve to its container ${ip}` : 'still resolves'} from inside the cluster after ${timeout / 1000}s (last answer: ${JSON.stringify(seen)})`,
      'check CoreDNS picked up the Corefile (kubectl -n kube-system logs -l k8s-app=kube-dns) and that its reload plugin is on',
    );
  }

  /** CoreDNS in kind reloads its Corefile on change (the `reload` plugin). */
  private async publishNames(): Promise<void> {
    if (!this.kube) return;
    const cm = await this.kube.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'coredns' });
    const entries = [...this.running.entries()].map(([name, r]) => ({ name, ip: r.ip }));
    const corefile = corefileWithHosts(cm.data?.Corefile ?? '', entries);
    const manifest: Manifest = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      data: { Corefile: corefile },
    };
    await this.kube.apply(manifest);
  }
}
