import { afterEach, describe, expect, test } from '@jest/globals';
import { RecordingRunner } from '../../../src/targets/k8s/commands.js';
import type { ProbeAttempt } from '../../../src/targets/target.js';
import { TargetError, UnsupportedError } from '../../../src/targets/target.js';
import { ExistingTarget, type ExistingTargetOptions } from '../../../src/targets/existing/index.js';
import { FakeApiServer, type FakeOptions } from './fake-apiserver.js';
import { inMeshOnly, strictMtls } from './fixtures.js';

let server: FakeApiServer | undefined;
const started: FakeApiServer[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
  server = undefined;
});

async function setup(fake: FakeOptions = {}, options: Partial<ExistingTargetOptions> = {}, analyzeOut = '[]') {
  server = new FakeApiServer(fake);
  started.push(server);
  await server.start();
  const runner = new RecordingRunner([{ prefix: 'istioctl analyze', result: { stdout: analyzeOut } }]);
  const target = new ExistingTarget({
    context: 'fake',
    image: 'registry.example/meshprobe-agent:1',
    kubeConfig: server.kubeConfig(),
    runner,
    runId: 'r1',
    xdsSettleMs: 10,
    readyTimeoutMs: 3000,
    ...options,
  });
  return { server, target, runner };
}

const attempts = (names: string[]): ProbeAttempt[] =>
  inMeshOnly()
    .spec.probes.filter((p) => names.includes(p.name))
    .map((probe, i) => ({ probe, nonce: `n${i}-${probe.name}`, attempt: 1 }));

/** Mutating requests and all requests outside the run's namespaces, which must be only istiod / mesh-config reads. */
function assertStayedInside(s: FakeApiServer, runNamespaces: string[]): void {
  for (const r of s.log) {
    if (r.namespace === undefined) {
      // cluster-scoped: discovery, or the run's own Namespace objects
      const ns = /^\/api\/v1\/namespaces\/([^/?]+)$/.exec(r.path.split('?')[0])?.[1];
      if (r.method !== 'GET' || ns) expect(runNamespaces).toContain(ns);
      continue;
    }
    if (runNamespaces.includes(r.namespace)) continue;
    expect(r.namespace).toBe('istio-system');
    expect(r.method).toBe('GET');
    expect(r.path).toMatch(
      /^\/api\/v1\/namespaces\/istio-system\/(pods\?labelSelector=app%3Distiod|pods\/istiod-[^/]+\/portforward\?ports=15014|configmaps\/istio)|^\/apis\/apps\/v1\/namespaces\/istio-system\/deployments(\/istiod|\?labelSelector=app%3Distiod)/,
    );
  }
}

describe.each(['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const)('existing target end to end over %s', (protocol) => {
  test('prepare, deploy, probe, diagnose, undeploy — only the run namespaces are touched', async () => {
    const { server, target, runner } = await setup({ protocol });
    const info = await target.prepare();
    expect(info.istioVersion).toBe('1.26.2');
    const scenario = inMeshOnly();
    target.check(scenario);
    const dep = await target.deploy(scenario);
    const runNs = server.list('Namespace').map((n) => n.metadata.name);
    expect(runNs).toHaveLength(2);
    expect(runNs.every((n) => /^mp-r1-[0-9a-f]{4}-(app|legacy)$/.test(n))).toBe(true);
    expect(server.list('Namespace').find((n) => n.metadata.name.endsWith('-app'))!.metadata.labels!['istio-injection']).toBe('enabled');
    expect(server.list('AuthorizationPolicy')).toHaveLength(1);
    expect(runner.lines().filter((l) => l.startsWith('istioctl analyze'))).toHaveLength(2);

    const results = await target.probe(dep, attempts(['mtls-from-mesh']));
    expect(results).toHaveLength(1);
    const [r] = results;
    expect(r.client.outcome.kind).toBe('ok');
    expect(r.client.request.host).toBe('server.app.svc.cluster.local'); // shown in the scenario's names
    expect(r.destinationQueried).toBe(true);
    expect(r.arrived.map((o) => o.peer?.identity)).toEqual(['spiffe://cluster.local/ns/app/sa/meshclient']);
    expect(r.destinationAddresses?.[0]).toMatch(/^10\.244\./);
    const call = server.execs.find((e) => e.command.join(' ').includes(' call'))!;
    expect(call.protocol).toBe(protocol);
    expect(call.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(call.command[2]).toMatch(/ call --chains --stagger 100$/);
    expect(JSON.parse(call.stdin)[0][0]).toMatchObject({
      protocol: 'http',
      port: 8080,
      host: expect.stringMatching(/^server\.mp-r1-.*-app\.svc\.cluster\.local$/),
    });
    // A probe's repeated attempts go in one chain, in attempt order (the agent sends them one after another).
    const probe = attempts(['mtls-from-mesh'])[0].probe;
    const three = [3, 1, 2].map((n): ProbeAttempt => ({ probe, nonce: `c${n}`, attempt: n }));
    expect((await target.probe(dep, three)).map((x) => [x.nonce, x.client.outcome.kind])).toEqual([
      ['c3', 'ok'],
      ['c1', 'ok'],
      ['c2', 'ok'],
    ]);
    const chained = server.execs.filter((e) => e.command.join(' ').includes(' call')).at(-1)!;
    expect((JSON.parse(chained.stdin) as { nonce: string }[][]).map((c) => c.map((r) => r.nonce))).toEqual([['c1', 'c2', 'c3']]);

    const diags = await target.diagnose(dep, ['mtls-from-mesh']);
    expect(diags.map((d) => d.title)).toEqual(
      expect.arrayContaining(['app/meshclient events', 'app/server agent log', 'app/server proxy-config listeners']),
    );
    expect(runner.lines().some((l) => /^istioctl proxy-config listeners server-.*\.mp-r1-.*-app --context fake$/.test(l))).toBe(true);

    await target.undeploy(dep);
    await target.teardown();
    expect(server.list('Namespace')).toHaveLength(0);
    assertStayedInside(server, runNs);
    expect(
      server.log
        .filter((q) => q.method === 'DELETE')
        .map((q) => q.path.split('?')[0])
        .sort(),
    ).toEqual(runNs.map((n) => `/api/v1/namespaces/${n}`).sort());
  });
});

describe('existing target failures', () => {
  test('--context is required', async () => {
    const { target } = await setup({}, { context: undefined });
    await expect(target.prepare()).rejects.toThrow(/needs --context/);
  });

  test('a pod that never becomes ready: ERROR with its state and events; the run namespaces are removed', async () => {
    const { server, target } = await setup({ neverReady: ['server'] }, { readyTimeoutMs: 400 });
    await target.prepare();
    const err = await target.deploy(inMeshOnly()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as Error).message).toMatch(/pod mp-r1-.*-app\/server-.* not ready after 0.4s/);
    expect((err as Error).message).toMatch(/ImagePullBackOff/);
    expect((err as Error).message).toMatch(/event Warning BackOff/);
    expect(server.list('Namespace')).toHaveLength(0);
  });

  test('an exec stream that drops before the status channel is an ERROR, not a result', async () => {
    const { target } = await setup({ dropExec: (c) => c.includes(' call') });
    await target.prepare();
    const dep = await target.deploy(inMeshOnly());
    await expect(target.probe(dep, attempts(['mtls-from-mesh']))).rejects.toThrow(/stream closed before the command's status arrived/);
    await target.undeploy(dep);
  });

  test('a command failing per the status channel is an ERROR carrying stderr', async () => {
    const { target } = await setup();
    await target.prepare();
    const dep = await target.deploy(inMeshOnly());
    const a = attempts(['mtls-from-mesh']);
    a[0] = { ...a[0], probe: { ...a[0].probe } };
    // the fake answers unknown commands with exit 127 on the status channel
    const { Kube } = await import('../../../src/targets/k8s/kube.js');
    const kube = new Kube(server!.kubeConfig());
    const pod = server!.list('Pod').find((p) => p.metadata.labels?.['meshprobe.io/workload'] === 'server')!;
    const r = await kube.exec(pod.metadata.namespace!, pod.metadata.name, 'agent', ['nosuch']);
    expect(r.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode' });
    expect(r.stderr).toMatch(/not found/);
    await target.undeploy(dep);
  });

  test('403 from the API: ERROR naming the call and pointing at RBAC', async () => {
    const { target } = await setup({
      forbid: (m, p) => m === 'PATCH' && p.startsWith('/api/v1/namespaces/') && !p.includes('/', '/api/v1/namespaces/'.length),
    });
    await target.prepare();
    const err = await target.deploy(inMeshOnly()).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/apply Namespace mp-r1-.*: API answered 403/);
    expect((err as TargetError).hint).toMatch(/RBAC/);
  });

  test('abort (Ctrl-C) while waiting for pods: interrupted, and teardown deletes exactly what was created', async () => {
    const { server, target } = await setup({ readyAfterMs: 60_000 }, { readyTimeoutMs: 60_000 });
    await target.prepare();
    const ctrl = new AbortController();
    const deploying = target.deploy(inMeshOnly(), ctrl.signal);
    await new Promise((r) => setTimeout(r, 300));
    ctrl.abort();
    await expect(deploying).rejects.toThrow(/interrupted/);
    expect(server.list('Namespace')).toHaveLength(2);
    await target.teardown();
    expect(server.list('Namespace')).toHaveLength(0);
  });

  test('a rise in pilot_total_xds_rejects after applying makes the scenario ERROR', async () => {
    const { target } = await setup({ xdsRejects: [3, 4] });
    await target.prepare();
    await expect(target.deploy(inMeshOnly())).rejects.toThrow(/pilot_total_xds_rejects rose from 3 to 4/);
  });

  test('istioctl analyze errors make the scenario ERROR; warnings are kept on the deployment', async () => {
    const err = JSON.stringify([{ code: 'IST0101', level: 'Error', message: 'Referenced selector not found', origin: 'AuthorizationPolicy x' }]);
    const { target } = await setup({}, {}, err);
    await target.prepare();
    await expect(target.deploy(inMeshOnly())).rejects.toThrow(/istioctl analyze reports errors.*\n.*IST0101/);
    server!.log.length = 0;
    const warn = JSON.stringify([{ code: 'IST0102', level: 'Info', message: 'not injected' }]);
    const second = await setup({}, {}, warn);
    await second.target.prepare();
    const dep = await second.target.deploy(inMeshOnly());
    expect((dep as unknown as { findings: Array<{ code: string }> }).findings.map((f) => f.code)).toEqual(['IST0102', 'IST0102']);
    await second.target.undeploy(dep);
  });

  test('refuses mesh-wide changes and externals unless allowed', async () => {
    const { target } = await setup();
    await target.prepare();
    const s = inMeshOnly();
    s.spec.resources.push({
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'mesh', namespace: 'istio-system' },
      spec: {},
    });
    expect(() => target.check(s)).toThrow(UnsupportedError);
    expect(() => target.check(s)).toThrow(/istio-system would change the mesh/);
    expect(() => target.check(strictMtls())).toThrow(/cannot run hosts outside the mesh/);
    const allowed = new ExistingTarget({
      context: 'fake',
      image: 'registry.example/meshprobe-agent:1',
      kubeConfig: server!.kubeConfig(),
      runner: new RecordingRunner(),
      allowMeshChanges: true,
    });
    await allowed.prepare();
    expect(() => allowed.check(s)).not.toThrow();
    const reg = inMeshOnly();
    reg.spec.mesh = { outboundTrafficPolicy: 'REGISTRY_ONLY' };
    expect(() => allowed.check(reg)).toThrow(/mesh runs ALLOW_ANY/);
    const norm = inMeshOnly();
    norm.spec.mesh = { pathNormalization: 'NONE' };
    expect(() => allowed.check(norm)).toThrow(/the scenario needs NONE but the mesh runs BASE/);
    norm.spec.mesh = { pathNormalization: 'BASE' };
    expect(() => allowed.check(norm)).not.toThrow();
  });
});
