/**
 * The cluster targets' probe commands on a real container runtime (Debian's docker.io, set up by
 * scripts/docker-setup): the probe image is built from the real Dockerfile, containers run with the
 * securityContext the targets render (user, added capabilities), the exact commands the targets exec run in them
 * by `docker exec -i` (what `kubectl exec -i` does), and externals are started through testcontainers on a docker
 * network and answer the probes. Root only (dockerd needs it); skipped with the reason printed otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { ProbeRequest } from '../../../src/agent/types.js';
import type { Scenario } from '../../../src/scenario/schema.js';
import { callCommand, FLUSH_FAILED, parseCallOutput } from '../../../src/targets/k8s/exec-probe.js';
import type { ExecResult } from '../../../src/targets/k8s/kube.js';
import { renderScenario } from '../../../src/targets/k8s/manifests.js';
import { TargetError } from '../../../src/targets/target.js';
import { inMeshOnly } from './fixtures.js';
import { describeAsRoot } from '../../support/as-root.js';
import { dockerExec } from './docker-exec.js';

// No registry here: testcontainers must not pull its reaper image; the tests remove what they start.
process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const tag = `meshprobe-agent:test-${process.pid}`;
const network = `mp-test-${process.pid}`;
const containers: string[] = [];
let externals: import('../../../src/targets/kind/externals.js').KindExternals | undefined;

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The first container of the workload's rendered Deployment, as `docker run` flags. */
function podFlags(s: Scenario, workload: string): string[] {
  const d = renderScenario(s, { runId: 'd1', agentBundle: '', image: tag }).workloads.find(
    (m) => m.kind === 'Deployment' && m.metadata.name === workload,
  ) as unknown as {
    spec: {
      template: { spec: { containers: Array<{ securityContext?: { runAsUser?: number; runAsGroup?: number; capabilities?: { add?: string[] } } }> } };
    };
  };
  const sc = d.spec.template.spec.containers[0].securityContext ?? {};
  const user = sc.runAsUser !== undefined ? [`--user`, `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`] : [];
  return [...user, ...(sc.capabilities?.add ?? []).flatMap((c) => ['--cap-add', c])];
}

/** A "pod": the probe image idling with the given flags; probes are exec'd into it. */
function startPod(flags: string[]): string {
  const id = docker('run', '-d', '--network', network, ...flags, '--entrypoint', 'sleep', tag, 'infinity');
  containers.push(id);
  return id;
}

const exec = dockerExec;

function scenario(extra: Partial<Scenario['spec']['probes'][number]>): Scenario {
  const s = inMeshOnly();
  const base = s.spec.probes.find((p) => p.name === 'mtls-from-mesh')!;
  const ext = { name: 'partner.example.test', ports: [{ port: 80, protocol: 'http' as const }] };
  return { ...s, spec: { ...s.spec, externals: [ext], probes: [...s.spec.probes, { ...base, name: 'extra', to: ext.name, port: 80, ...extra }] } };
}

let ip = '';
let n = 0;
function call(id: string, probe: Parameters<typeof callCommand>[0]): { r: ExecResult; requests: ProbeRequest[] } {
  const requests: ProbeRequest[] = [
    { nonce: `d${process.pid}-${++n}`, protocol: 'http', host: ip, port: 80, timeoutMs: { connect: 3000, total: 5000 } },
  ];
  return { r: exec(id, callCommand(probe), `${JSON.stringify([requests])}\n`), requests };
}

describeAsRoot('cluster probe commands on a real container runtime', () => {
  beforeAll(async () => {
    const setup = spawnSync('bash', [path.join(ROOT, 'scripts/docker-setup')], { encoding: 'utf8' });
    if (setup.status !== 0) throw new Error(`scripts/docker-setup failed:\n${setup.stderr}`);
    const base = setup.stdout.trim();
    const build = spawnSync('docker', ['build', '-q', '--build-arg', `BASE_IMAGE=${base}`, '-t', tag, ROOT], { encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`docker build of the real Dockerfile failed:\n${build.stderr}`);
    docker('network', 'create', network);
    const { KindExternals } = await import('../../../src/targets/kind/externals.js');
    externals = new KindExternals(undefined, tag, { network });
    await externals.start(scenario({}));
    ip = externals.address('partner.example.test')!;
  }, 900_000);

  afterAll(async () => {
    await externals?.stop(scenario({})).catch(() => {});
    for (const id of containers) spawnSync('docker', ['rm', '-f', id]);
    spawnSync('docker', ['network', 'rm', network]);
    spawnSync('docker', ['rmi', '-f', tag]);
  }, 120_000);

  test('an external started through testcontainers answers a probe and records it', async () => {
    const pod = startPod(podFlags(scenario({}), 'meshclient'));
    const { r, requests } = call(pod, {});
    const results = parseCallOutput('pod', requests, r);
    expect(results.get(requests[0].nonce)?.outcome).toMatchObject({ kind: 'ok', status: 200 });
    const seen = await externals!.query('partner.example.test', [requests[0].nonce]);
    expect(seen.map((o) => o.nonce)).toEqual([requests[0].nonce]);
  });

  test('as: {user}: a non-root container with SETUID/SETGID added cannot setpriv; the rendered one (uid 0) can', async () => {
    const before = startPod(['--user', '1000:1000', '--cap-add', 'SETUID', '--cap-add', 'SETGID']);
    const failed = call(before, { as: { user: 1337 } });
    expect(failed.r.stderr).toMatch(/setpriv: setresuid failed: Operation not permitted/);
    expect(() => parseCallOutput('pod', failed.requests, failed.r)).toThrow(TargetError);
    const s = scenario({ as: { user: 1337 } });
    const pod = startPod(podFlags(s, 'meshclient'));
    expect(exec(pod, ['setpriv', '--reuid=1337', '--regid=1337', '--clear-groups', 'id', '-u']).stdout.trim()).toBe('1337');
    const ok = call(pod, { as: { user: 1337 } });
    expect(parseCallOutput('pod', ok.requests, ok.r).get(ok.requests[0].nonce)?.outcome).toMatchObject({ kind: 'ok', status: 200 });
  });

  test('flush-capture: refused iptables is an ERROR (the old `|| true` command passed); as rendered it bypasses capture, then capture is back', async () => {
    const before = startPod(['--user', '1000:1000', '--cap-add', 'NET_ADMIN']);
    const old = `{ iptables-nft -t nat -F 2>/dev/null; iptables-legacy -t nat -F 2>/dev/null; iptables -t nat -F; } >&2 || true; head -n 1 | node /agent/meshprobe-agent.mjs call --chains --stagger 100`;
    const oldRun = exec(before, ['sh', '-c', old], `${JSON.stringify([[{ nonce: 'old', protocol: 'http', host: ip, port: 80 }]])}\n`);
    expect(oldRun.stderr).toMatch(/Permission denied/);
    expect(oldRun.status.status).toBe('Success'); // the defect: a flush that never happened looked like one
    const refused = call(before, { bypass: 'flush-capture' });
    expect(refused.r.status.details?.causes?.[0].message).toBe(String(FLUSH_FAILED));
    expect(refused.r.stderr).toMatch(/cannot read the pod's nat table/);
    expect(() => parseCallOutput('pod', refused.requests, refused.r)).toThrow(/exit code 97/);

    const s = scenario({ bypass: 'flush-capture' });
    const pod = startPod(podFlags(s, 'meshclient'));
    // stands in for istio-init: the pod's outbound port 80 is redirected to a port where nothing listens
    expect(
      exec(pod, ['iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '80', '-j', 'REDIRECT', '--to-ports', '1']).status.status,
    ).toBe('Success');
    const captured = call(pod, {});
    expect(parseCallOutput('pod', captured.requests, captured.r).get(captured.requests[0].nonce)?.outcome.kind).not.toBe('ok');
    const bypass = call(pod, { bypass: 'flush-capture' });
    expect(parseCallOutput('pod', bypass.requests, bypass.r).get(bypass.requests[0].nonce)?.outcome).toMatchObject({ kind: 'ok', status: 200 });
    expect(exec(pod, ['iptables-save', '-t', 'nat']).stdout).toMatch(/-A OUTPUT -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 1/);
    const again = call(pod, {});
    expect(parseCallOutput('pod', again.requests, again.r).get(again.requests[0].nonce)?.outcome.kind).not.toBe('ok');
  });

  test('start waits until the name resolves to the container from inside the cluster, stop until it is gone; a name that never resolves is an error (defect 9)', async () => {
    const { KindExternals } = await import('../../../src/targets/kind/externals.js');
    const own = new KindExternals(undefined, tag, { network, dnsPollMs: 20, dnsTimeoutMs: 2_000 });
    const s = {
      ...scenario({}),
      spec: { ...scenario({}).spec, externals: [{ name: 'late.example.test', ports: [{ port: 80, protocol: 'http' as const }] }] },
    };
    const answers: string[][] = [];
    let calls = 0;
    // what CoreDNS would answer while kubelet and the reload plugin catch up: nothing twice, then the container
    await own.start(s, undefined, async () => {
      calls++;
      const a = calls <= 2 ? [] : [own.address('late.example.test')!];
      answers.push(a);
      return a;
    });
    expect(answers.map((a) => a.length)).toEqual([0, 0, 1]);
    let left = 2;
    await own.stop(s, async () => (left-- > 0 ? ['10.0.0.1'] : []));
    expect(left).toBe(-1);
    const never = new KindExternals(undefined, tag, { network, dnsPollMs: 20, dnsTimeoutMs: 200 });
    const err = await never.start(s, undefined, async () => []).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/late\.example\.test did not resolve to its container .* from inside the cluster/);
    await never.stop(s);
  });
});
