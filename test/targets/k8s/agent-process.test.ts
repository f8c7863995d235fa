/**
 * Where the agent comes from on a cluster and as which uid it runs: the stock Node image with the agent mounted
 * from a ConfigMap wherever the probes allow it (no image to build, push or load), the probe image only for
 * probes that need ping, iptables or setpriv; `as` the workload's own uid needs no setpriv and no capability.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import type { Scenario } from '../../../src/scenario/schema.js';
import {
  AGENT_BUNDLE_FILE,
  agentSource,
  capabilityConflict,
  CONFIGMAP_LIMIT_BYTES,
  loadAgentBundle,
  processUid,
} from '../../../src/targets/k8s/agent-process.js';
import { RecordingRunner } from '../../../src/targets/k8s/commands.js';
import { callCommand } from '../../../src/targets/k8s/exec-probe.js';
import { renderScenario, RenderError, type Manifest } from '../../../src/targets/k8s/manifests.js';
import { ExistingTarget } from '../../../src/targets/existing/index.js';
import { UnsupportedError } from '../../../src/targets/target.js';
import { FakeApiServer } from './fake-apiserver.js';
import { inMeshOnly } from './fixtures.js';

type Container = {
  image: string;
  imagePullPolicy: string;
  command: string[];
  volumeMounts: Array<{ name: string; mountPath: string }>;
  securityContext: Record<string, unknown>;
};

function withProbe(extra: Partial<Scenario['spec']['probes'][number]>, runAsUser?: number): Scenario {
  const s = inMeshOnly();
  const base = s.spec.probes.find((p) => p.name === 'mtls-from-mesh')!;
  const workloads = s.spec.workloads.map((w) => (w.name === 'meshclient' && runAsUser !== undefined ? { ...w, runAsUser } : w));
  return { ...s, spec: { ...s.spec, workloads, probes: [...s.spec.probes, { ...base, name: 'extra', ...extra }] } };
}

const meshclient = (s: Scenario) => s.spec.workloads.find((w) => w.name === 'meshclient')!;

function container(ms: Manifest[], name: string): Container {
  const d = ms.find((m) => m.kind === 'Deployment' && m.metadata.name === name) as unknown as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  return d.spec.template.spec.containers[0];
}

describe('agent source: stock image unless a probe needs the probe image', () => {
  test('no ping, iptables or setpriv needed: stock node image, the bundle mounted at /agent from a ConfigMap in each namespace', () => {
    const s = inMeshOnly();
    expect(agentSource(s)).toEqual({ mode: 'stock', reasons: [] });
    const r = renderScenario(s, { runId: 'r1', agentBundle: 'BUNDLE TEXT', image: 'example/probe:1' });
    const bundles = r.workloads.filter((m) => m.kind === 'ConfigMap' && m.metadata.name === 'meshprobe-agent');
    expect(bundles.map((m) => m.metadata.namespace).sort()).toEqual([...r.map.forward.values()].sort());
    for (const b of bundles) expect(b.data).toEqual({ 'meshprobe-agent.mjs': 'BUNDLE TEXT' });
    const c = container(r.workloads, 'meshclient');
    expect(c.image).toBe('node:22-slim');
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.command.slice(0, 3)).toEqual(['node', '/agent/meshprobe-agent.mjs', 'serve']);
    expect(c.volumeMounts).toContainEqual({ name: 'agent', mountPath: '/agent', readOnly: true });
    // the stock image runs as root unless told: the probe image's uid is set explicitly
    expect(c.securityContext).toEqual({ runAsUser: 1000, runAsGroup: 1000 });
    expect(container(renderScenario(s, { runId: 'r1', agentBundle: 'x', stockImage: 'mirror.example/node:22-slim' }).workloads, 'server').image).toBe(
      'mirror.example/node:22-slim',
    );
  });

  test('stock mode without the bundle to mount is a render error, never a pod that cannot start', () => {
    expect(() => renderScenario(inMeshOnly(), { runId: 'r1' })).toThrow(RenderError);
    expect(() => renderScenario(inMeshOnly(), { runId: 'r1' })).toThrow(/needs the agent bundle/);
  });

  test.each([
    [{ protocol: 'icmp' as const, port: undefined }, /probe extra is icmp: ping is not in node:22-slim/],
    [{ bypass: 'flush-capture' as const }, /probe extra flushes capture: iptables is not in node:22-slim/],
    [
      { as: { user: 1337 } },
      /probe extra runs as uid 1337, not the workload's own 1000: that takes setpriv \(not in node:22-slim\) in a container running as uid 0 with SETUID\/SETGID/,
    ],
  ])('%j needs the probe image, and says why', (extra, why) => {
    const s = withProbe(extra);
    const source = agentSource(s);
    expect(source.mode).toBe('image');
    expect(source.reasons.join('\n')).toMatch(why);
    const r = renderScenario(s, { runId: 'r1', image: 'example/probe:1', imagePullPolicy: 'Never' });
    expect(r.workloads.some((m) => m.metadata.name === 'meshprobe-agent')).toBe(false);
    for (const w of ['server', 'meshclient']) {
      const c = container(r.workloads, w);
      expect([c.image, c.imagePullPolicy]).toEqual(['example/probe:1', 'Never']);
      expect(c.volumeMounts.some((v) => v.name === 'agent')).toBe(false);
    }
  });

  test('the real bundle fits a ConfigMap; a missing or oversized one is an error saying what to do', async () => {
    const text = await loadAgentBundle(AGENT_BUNDLE_FILE);
    expect(text).toMatch(/^#!\/usr\/bin\/env node/);
    expect(Buffer.byteLength(text)).toBeLessThan(CONFIGMAP_LIMIT_BYTES / 4);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-bundle-'));
    dirs.push(dir);
    await expect(loadAgentBundle(path.join(dir, 'absent.mjs'))).rejects.toThrow(/cannot be read \(ENOENT\)/);
    const big = path.join(dir, 'big.mjs');
    await writeFile(big, 'x'.repeat(CONFIGMAP_LIMIT_BYTES));
    await expect(loadAgentBundle(big)).rejects.toThrow(/too big for a ConfigMap/);
  });
});

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('as: {user} equal to the workload uid needs no setpriv (no capability, no uid 0)', () => {
  test('the default uid 1000: stays 1000, no capability, no setpriv in the exec', () => {
    const s = withProbe({ as: { user: 1000 } });
    expect(processUid(s, meshclient(s))).toBe(1000);
    expect(agentSource(s).mode).toBe('stock');
    const c = container(renderScenario(s, { runId: 'r1', agentBundle: 'x' }).workloads, 'meshclient');
    expect(c.securityContext).toEqual({ runAsUser: 1000, runAsGroup: 1000 });
    expect(callCommand({ as: { user: 1000 } }, 1000).join(' ')).not.toMatch(/setpriv/);
    expect(callCommand({ as: { user: 1337 } }, 1000).join(' ')).toMatch(/setpriv --reuid=1337 --regid=1337 --clear-groups node/);
  });

  test('a declared non-root uid: `as` that uid is allowed and needs nothing; another uid is refused naming the probe', () => {
    const own = withProbe({ as: { user: 2000 } }, 2000);
    expect(capabilityConflict(own, meshclient(own))).toBeUndefined();
    expect(container(renderScenario(own, { runId: 'r1', agentBundle: 'x' }).workloads, 'meshclient').securityContext).toEqual({
      runAsUser: 2000,
      runAsGroup: 2000,
    });
    const other = withProbe({ as: { user: 1337 } }, 2000);
    expect(capabilityConflict(other, meshclient(other))).toMatch(/runs as uid 2000 but its probes use `as: \{user: 1337\}` \(probe extra: setpriv/);
    expect(() => renderScenario(other, { runId: 'r1', image: 'p' })).toThrow(RenderError);
  });

  test('as root from the default uid: the container runs as uid 0, which needs neither setpriv nor a capability', () => {
    const s = withProbe({ as: { user: 0 } });
    expect(processUid(s, meshclient(s))).toBe(0);
    expect(agentSource(s).mode).toBe('stock');
    expect(container(renderScenario(s, { runId: 'r1', agentBundle: 'x' }).workloads, 'meshclient').securityContext).toEqual({
      runAsUser: 0,
      runAsGroup: 0,
    });
    expect(callCommand({ as: { user: 0 } }, 0).join(' ')).not.toMatch(/setpriv/);
  });

  test('with flush-capture beside it the process is root, so `as` the declared uid does use setpriv', () => {
    const s = withProbe({ as: { user: 1000 } });
    s.spec.probes.push({ ...s.spec.probes.find((p) => p.name === 'extra')!, name: 'flush', as: undefined, bypass: 'flush-capture' });
    expect(processUid(s, meshclient(s))).toBe(0);
    expect(container(renderScenario(s, { runId: 'r1', image: 'p' }).workloads, 'meshclient').securityContext).toEqual({
      runAsUser: 0,
      runAsGroup: 0,
      capabilities: { add: ['SETUID', 'SETGID', 'NET_ADMIN'] },
    });
  });
});

describe('existing target without --image (fake API server)', () => {
  let server: FakeApiServer | undefined;
  const servers: FakeApiServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
  });

  async function existing(image?: string) {
    server = new FakeApiServer();
    servers.push(server);
    await server.start();
    const target = new ExistingTarget({
      context: 'fake',
      ...(image ? { image } : {}),
      kubeConfig: server.kubeConfig(),
      runner: new RecordingRunner([{ prefix: 'istioctl analyze', result: { stdout: '[]' } }]),
      runId: 'r1',
      xdsSettleMs: 10,
      readyTimeoutMs: 3000,
    });
    await target.prepare();
    return target;
  }

  test('a stock-mode scenario runs: the real bundle is applied as a ConfigMap, pods use node:22-slim, `as` the own uid execs without setpriv', async () => {
    const target = await existing();
    const s = withProbe({ as: { user: 1000 } });
    target.check(s);
    const dep = await target.deploy(s);
    const bundle = await loadAgentBundle(AGENT_BUNDLE_FILE);
    const applied = server!.list('ConfigMap').filter((c) => c.metadata.name === 'meshprobe-agent');
    expect(applied).toHaveLength(2);
    for (const c of applied) expect((c as unknown as { data: Record<string, string> }).data['meshprobe-agent.mjs']).toBe(bundle);
    for (const d of server!.list('Deployment').filter((x) => x.metadata.namespace !== 'istio-system'))
      expect(JSON.stringify(d)).toContain('"image":"node:22-slim"');
    const probe = s.spec.probes.find((p) => p.name === 'extra')!;
    const [r] = await target.probe(dep, [{ probe, nonce: 'n-own', attempt: 1 }]);
    expect(r.client.outcome.kind).toBe('ok');
    const call = server!.execs.find((e) => e.stdin.includes('n-own'))!;
    expect(call.command.join(' ')).toMatch(/^sh -c head -n 1 \| node \/agent\/meshprobe-agent\.mjs call/);
    expect(call.command.join(' ')).not.toMatch(/setpriv/);
    const diagnostics = await target.diagnose(dep, ['extra']);
    expect(diagnostics.find((d) => d.title === 'agent')?.body).toMatch(/stock image node:22-slim/);
    await target.undeploy(dep);
    await target.teardown();
  });

  test('a scenario that needs the probe image is refused before anything is deployed, naming the probe and the fix', async () => {
    const target = await existing();
    const err = (() => {
      try {
        target.check(withProbe({ protocol: 'icmp', port: undefined }));
      } catch (e) {
        return e as UnsupportedError;
      }
    })();
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err!.message).toMatch(/needs the probe image, because probe extra is icmp: ping is not in node:22-slim/);
    expect(err!.hint).toMatch(/--image REF/);
    expect(server!.log.filter((r) => r.method !== 'GET')).toEqual([]);
    // with --image it is accepted and deployed from that image
    const withImage = await existing('registry.example/meshprobe-agent:1');
    const s = withProbe({ protocol: 'icmp', port: undefined });
    withImage.check(s);
    const dep = await withImage.deploy(s);
    for (const d of server!.list('Deployment').filter((x) => x.metadata.namespace !== 'istio-system'))
      expect(JSON.stringify(d)).toContain('"image":"registry.example/meshprobe-agent:1"');
    expect(server!.list('ConfigMap').some((c) => c.metadata.name === 'meshprobe-agent')).toBe(false);
    await withImage.undeploy(dep);
    await withImage.teardown();
  });
});
