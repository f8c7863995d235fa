import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtemp, cp, writeFile, rm, readFile } from 'node:fs/promises';
import YAML from 'yaml';
import os from 'node:os';
import path from 'node:path';
import type { Observation } from '../../../src/agent/types.js';
import type { Scenario } from '../../../src/scenario/schema.js';
import type { ExternalsHost } from '../../../src/targets/k8s/cluster.js';
import { RecordingRunner } from '../../../src/targets/k8s/commands.js';
import { KindTarget } from '../../../src/targets/kind/index.js';
import { corefileWithHosts, upPlan } from '../../../src/targets/kind/plan.js';
import { CLUSTERS_DIR, loadProfile, profileFor, profileSatisfies, PROFILE_NAMES, ProfileError } from '../../../src/targets/kind/profiles.js';
import { FakeApiServer } from './fake-apiserver.js';
import { upSummary } from '../../../src/cli/up.js';
import { registryOnly, strictMtls } from './fixtures.js';

class FakeExternals implements ExternalsHost {
  readonly started: string[] = [];
  readonly stopped: string[] = [];
  async start(s: Scenario) {
    this.started.push(...s.spec.externals.map((e) => e.name));
  }
  async query(_name: string, _nonces: string[]): Promise<Observation[]> {
    return [];
  }
  async stop(s: Scenario) {
    this.stopped.push(...s.spec.externals.map((e) => e.name));
  }
}

const servers: FakeApiServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function kindTarget(keep: boolean, existing = '', mark?: string, fake: ConstructorParameters<typeof FakeApiServer>[0] = {}, profile?: string) {
  const server = new FakeApiServer(fake);
  servers.push(server);
  if (mark !== undefined)
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system', labels: mark ? { 'meshprobe.io/profile': mark } : {} } });
  await server.start();
  const runner = new RecordingRunner([
    { prefix: 'kind get clusters', result: { stdout: existing } },
    { prefix: 'istioctl analyze', result: { stdout: '[]' } },
  ]);
  const externals = new FakeExternals();
  const target = new KindTarget({
    ...(profile ? { profile } : {}),
    keep,
    runner,
    externals,
    kubeConfig: server.kubeConfig(),
    lookup: async (n) => `/usr/local/bin/${n}`,
    runId: 'k1',
    xdsSettleMs: 10,
    readyTimeoutMs: 3000,
  });
  return { server, runner, externals, target };
}

describe('profiles', () => {
  test.each(PROFILE_NAMES)('clusters/%s loads and is consistent', async (name) => {
    const p = await loadProfile(name);
    expect(p.kindConfig.nodes.length).toBeGreaterThan(0);
    expect(p.versions.istio).toMatch(/^\d+\.\d+\.\d+$/);
  });
  test('a profile whose IstioOperator contradicts its features is refused', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-profiles-'));
    try {
      await cp(CLUSTERS_DIR, dir, { recursive: true });
      await writeFile(
        path.join(dir, 'registry-only', 'istio.yaml'),
        'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec: {profile: minimal}\n',
      );
      await expect(loadProfile('registry-only', dir)).rejects.toThrow(ProfileError);
      await expect(loadProfile('registry-only', dir)).rejects.toThrow(/outboundTrafficPolicy is ALLOW_ANY but profile.yaml declares REGISTRY_ONLY/);
      await expect(loadProfile('nope', dir)).rejects.toThrow(/unknown cluster profile "nope"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  test("a pathNormalization other than Istio's default BASE is refused by name on kind", async () => {
    const profile = await loadProfile('default');
    const s = strictMtls();
    s.spec.mesh = { pathNormalization: 'MERGE_SLASHES' };
    expect(profileSatisfies(profile.features, s)).toMatch(/spec\.mesh\.pathNormalization is MERGE_SLASHES/);
    s.spec.mesh = { pathNormalization: 'BASE' };
    expect(profileSatisfies(profile.features, s)).toBeUndefined();
  });

  test('profileFor groups scenarios by what they need from the mesh', () => {
    expect(profileFor(strictMtls())).toBe('default');
    expect(profileFor(registryOnly())).toBe('registry-only');
    const egress = strictMtls();
    egress.spec.resources.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'egress', namespace: 'app' },
      spec: { selector: { istio: 'egressgateway' } },
    });
    expect(profileFor(egress)).toBe('egress-gateway');
  });

  test('ingress-gateway scenarios are refused on kind with the reason; cni scenarios need the cni profile (defect 5, minor)', async () => {
    const ingress = strictMtls();
    ingress.spec.resources.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'in', namespace: 'app' },
      spec: { selector: { istio: 'ingressgateway' } },
    });
    for (const name of PROFILE_NAMES)
      expect(profileSatisfies((await loadProfile(name)).features, ingress)).toMatch(/no kind profile installs an ingress gateway/);
    const cni = { ...strictMtls(), metadata: { ...strictMtls().metadata, tags: ['cni'] } };
    expect(profileFor(cni)).toBe('cni');
    expect(profileSatisfies((await loadProfile('default')).features, cni)).toMatch(/use --profile cni/);
    expect(profileSatisfies((await loadProfile('cni')).features, cni)).toBeUndefined();
  });

  test("scenario 13's NetworkPolicy lets pods reach cluster DNS in kube-system on port 53 (defect 8)", async () => {
    const text = await readFile(
      path.join(process.cwd(), 'scenarios/istio-security-best-practices/13-egress-gateway-with-networkpolicy.yaml'),
      'utf8',
    );
    const doc = YAML.parse(text) as {
      spec: { resources: Array<{ kind: string; spec: { egress: Array<{ to: unknown[]; ports?: Array<{ protocol: string; port: number }> }> } }> };
    };
    const np = doc.spec.resources.find((r) => r.kind === 'NetworkPolicy')!;
    const dns = np.spec.egress.find((e) => JSON.stringify(e.to).includes('kube-system'));
    expect(dns?.ports).toEqual(expect.arrayContaining([{ protocol: 'UDP', port: 53 }]));
  });
});

describe('kind plan', () => {
  test('up: create with the profile config, istioctl install with its IstioOperator, build and load the image', async () => {
    const p = await loadProfile('registry-only');
    const lines = upPlan(p, 'meshprobe', 'meshprobe-agent:dev', '/repo').map((c) => [c.cmd, ...c.args].join(' '));
    expect(lines).toEqual([
      `kind create cluster --name meshprobe --config ${CLUSTERS_DIR}/registry-only/kind.yaml --wait 180s`,
      `istioctl install -y -f ${CLUSTERS_DIR}/registry-only/istio.yaml --context kind-meshprobe --readiness-timeout 300s`,
      'node /repo/scripts/bundle-agent.mjs',
      'docker build -t meshprobe-agent:dev -f /repo/Dockerfile /repo',
      'kind load docker-image meshprobe-agent:dev --name meshprobe',
    ]);
  });

  test('up builds the agent bundle before the image (the Dockerfile copies it); the cni profile does not wait for nodes without a CNI', async () => {
    const lines = upPlan(await loadProfile('default'), 'm', 'i:1', '/repo').map((c) => [c.cmd, ...c.args].join(' '));
    expect(lines.findIndex((l) => l.startsWith('node /repo/scripts/bundle-agent.mjs'))).toBe(
      lines.findIndex((l) => l.startsWith('docker build')) - 1,
    );
    const cni = upPlan(await loadProfile('cni'), 'm', 'i:1', '/repo')[0].args;
    expect(cni).not.toContain('--wait');
  });
  test('CoreDNS hosts block for externals is added inside .:53 and replaced on update', () => {
    const base = '.:53 {\n    errors\n    kubernetes cluster.local\n    forward . /etc/resolv.conf\n    reload\n}\n';
    const one = corefileWithHosts(base, [{ ip: '172.18.0.5', name: 'api.partner.test' }]);
    expect(one).toContain('hosts {\n      172.18.0.5 api.partner.test\n      fallthrough\n    }');
    expect(one.indexOf('hosts {')).toBeLessThan(one.indexOf('errors'));
    const two = corefileWithHosts(one, [{ ip: '172.18.0.6', name: 'b.test' }]);
    expect(two).not.toContain('api.partner.test');
    expect(two.match(/hosts \{/g)).toHaveLength(1);
    expect(corefileWithHosts(two, []).trim()).toBe(base.trim());
  });
});

describe('kind target against a fake API server', () => {
  test('prepare creates the cluster, a run deploys and probes, teardown deletes the cluster', async () => {
    const { server, runner, externals, target } = await kindTarget(false);
    const info = await target.prepare();
    expect(info.istioVersion).toBe('1.26.2');
    expect(
      runner
        .lines()
        .slice(0, 6)
        .map((l) => l.split(' ').slice(0, 3).join(' ')),
    ).toEqual([
      'kind get clusters',
      'kind create cluster',
      'istioctl install -y',
      `node ${process.cwd()}/scripts/bundle-agent.mjs`,
      'docker build -t',
      'kind load docker-image',
    ]);
    // the last step of up marks the cluster with its profile
    expect(server.list('Namespace').find((n) => n.metadata.name === 'istio-system')?.metadata.labels).toEqual({ 'meshprobe.io/profile': 'default' });
    const s = strictMtls();
    target.check(s);
    expect(() => target.check(registryOnly())).toThrow(/use --profile registry-only/);
    const dep = await target.deploy(s);
    expect(externals.started).toEqual(['api.partner.test']);
    const deployment = server.list('Deployment').find((d) => d.metadata.name === 'server')!;
    // no probe needs the probe image: the stock one, pulled as usual (the probe image is never pulled on kind)
    expect(JSON.stringify(deployment)).toContain('"image":"node:22-slim","imagePullPolicy":"IfNotPresent"');
    const probe = s.spec.probes.find((p) => p.name === 'mtls-from-mesh')!;
    const [r] = await target.probe(dep, [{ probe, nonce: 'k-1', attempt: 1 }]);
    expect(r.client.outcome.kind).toBe('ok');
    await target.undeploy(dep);
    expect(externals.stopped).toEqual(['api.partner.test']);
    await target.teardown();
    expect(runner.lines().at(-1)).toBe('kind delete cluster --name meshprobe');
  });

  test('an existing cluster is reused and never deleted; keep leaves namespaces in place', async () => {
    const { server, runner, target } = await kindTarget(true, 'meshprobe\n', 'default');
    await target.prepare();
    expect(runner.lines().some((l) => l.startsWith('kind create'))).toBe(false);
    expect(runner.lines().some((l) => l.startsWith('istioctl install'))).toBe(false);
    const dep = await target.deploy(strictMtls());
    expect(target.access(dep)[0]).toMatch(/^namespace app: kubectl get pods -n mp-k1-/);
    await target.undeploy(dep);
    await target.teardown();
    expect(server.list('Namespace')).toHaveLength(3);
    expect(runner.lines().some((l) => l.startsWith('kind delete'))).toBe(false);
  });

  test('a reused cluster must be what the profile says: finished, same profile, same outbound policy (defect 7)', async () => {
    await expect((await kindTarget(false, 'meshprobe\n', '')).target.prepare()).rejects.toThrow(/did not finish on it/);
    await expect((await kindTarget(false, 'meshprobe\n')).target.prepare()).rejects.toThrow(/has no istio-system/);
    await expect((await kindTarget(false, 'meshprobe\n', 'default', {}, 'registry-only')).target.prepare()).rejects.toThrow(
      /brought up with profile default, not registry-only/,
    );
    await expect((await kindTarget(false, 'meshprobe\n', 'registry-only', {}, 'registry-only')).target.prepare()).rejects.toThrow(
      /runs outboundTrafficPolicy ALLOW_ANY, the profile says REGISTRY_ONLY/,
    );
    const ok = await kindTarget(
      false,
      'meshprobe\n',
      'registry-only',
      { meshMode: 'REGISTRY_ONLY', istiodImage: 'docker.io/istio/pilot:1.26.9' },
      'registry-only',
    );
    expect((await ok.target.prepare()).istioVersion).toBe('1.26.9');
    await ok.target.teardown();
  });

  test('`meshprobe up` reports the Istio version istiod runs, read from the cluster, not the pinned one (defect 7)', async () => {
    // a new cluster: read after istioctl install; a reused one: read when it is checked
    for (const existing of ['', 'meshprobe\n']) {
      const { target } = await kindTarget(true, existing, existing ? 'default' : undefined, {
        istiodImage: 'docker.io/istio/pilot:1.26.9-distroless',
      });
      const r = await target.up();
      expect(r.created).toBe(!existing);
      expect(r.istioVersion).toBe('1.26.9');
      expect(upSummary('meshprobe', r)).toMatch(
        /^(created|reused) kind cluster meshprobe \(profile default, istiod runs Istio 1\.26\.9 \(clusters\/versions\.yaml pins 1\.26\.2\)\); context kind-meshprobe\n$/,
      );
    }
  });

  test('a missing kind binary is a clear error naming scripts/install-tools', async () => {
    const target = new KindTarget({ runner: new RecordingRunner(), lookup: async (n) => (n === 'kind' ? null : `/bin/${n}`) });
    const err = await target.prepare().catch((e: unknown) => e);
    expect((err as Error).message).toBe('kind was not found on PATH');
    expect((err as { hint?: string }).hint).toMatch(/scripts\/install-tools/);
  });
});
