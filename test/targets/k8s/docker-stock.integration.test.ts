/**
 * The stock mode on a real container runtime: no probe image is built. Two "pods" run a plain Node image (the
 * local base image from scripts/docker-setup stands in for node:22-slim: Debian with node, nothing else added)
 * exactly as the rendered Deployment says — its command, its uid and gid, the agent bundle and the agent config
 * mounted read-only from the rendered ConfigMaps' data, the control directory as an empty writable volume — and
 * the exact commands the targets exec (readiness, `call`, `query`) run in them by `docker exec -i`. Root only
 * (dockerd needs it); skipped with the reason printed otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { Scenario } from '../../../src/scenario/schema.js';
import { AGENT_BUNDLE_FILE, agentSource, loadAgentBundle, processUid } from '../../../src/targets/k8s/agent-process.js';
import { callCommand, parseCallOutput, parseQueryOutput, probeRequest, queryCommand } from '../../../src/targets/k8s/exec-probe.js';
import { renderScenario, serviceHost, type Manifest, type RenderedScenario } from '../../../src/targets/k8s/manifests.js';
import { describeAsRoot } from '../../support/as-root.js';
import { inMeshOnly } from './fixtures.js';
import { dockerExec } from './docker-exec.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const network = `mp-stock-${process.pid}`;
const containers: string[] = [];
const dirs: string[] = [];
let base = '';

const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

const exec = dockerExec;

interface Container {
  image: string;
  command: string[];
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  readinessProbe: { exec: { command: string[] } };
  securityContext: { runAsUser: number; runAsGroup: number; capabilities?: { add?: string[] } };
}
interface PodSpec {
  containers: Container[];
  volumes: Array<{ name: string; configMap?: { name: string }; emptyDir?: object }>;
}

/** Starts the workload's rendered pod: its volumes become read-only bind mounts of the ConfigMaps' data or tmpfs. */
function startPod(r: RenderedScenario, workload: string, dnsName?: string): string {
  const d = r.workloads.find((m) => m.kind === 'Deployment' && m.metadata.name === workload)!;
  const ns = d.metadata.namespace;
  const spec = (d as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
  const c = spec.containers[0];
  expect(c.image).toBe('node:22-slim');
  const mounts = c.volumeMounts.flatMap((m) => {
    const v = spec.volumes.find((x) => x.name === m.name)!;
    if (v.emptyDir) return ['--tmpfs', `${m.mountPath}:mode=1777`];
    const cm = r.workloads.find((x) => x.kind === 'ConfigMap' && x.metadata.namespace === ns && x.metadata.name === v.configMap!.name) as Manifest & {
      data: Record<string, string>;
    };
    const dir = mkdtempSync(path.join(tmpdir(), 'mp-cm-'));
    chmodSync(dir, 0o755); // a ConfigMap volume is readable by the pod's uid
    dirs.push(dir);
    for (const [key, text] of Object.entries(cm.data)) writeFileSync(path.join(dir, key), text, { mode: 0o644 });
    return ['-v', `${dir}:${m.mountPath}:ro`];
  });
  const sc = c.securityContext;
  const [entry, ...args] = c.command;
  const id = docker(
    'run',
    '-d',
    '--network',
    network,
    ...(dnsName ? ['--network-alias', dnsName] : []),
    '--user',
    `${sc.runAsUser}:${sc.runAsGroup}`,
    ...(sc.capabilities?.add ?? []).flatMap((cap) => ['--cap-add', cap]),
    ...mounts,
    '--entrypoint',
    entry,
    base,
    ...args,
  );
  containers.push(id);
  // the rendered readiness probe, run until it passes (what kubelet does); the agent must come up at all
  for (let i = 0; exec(id, c.readinessProbe.exec.command).status.status !== 'Success'; i++) {
    if (i > 300) throw new Error(`pod ${workload} never became ready:\n${spawnSync('docker', ['logs', id], { encoding: 'utf8' }).stderr}`);
    spawnSync('sleep', ['0.1']);
  }
  return id;
}

function scenario(): Scenario {
  const s = inMeshOnly();
  const base = s.spec.probes.find((p) => p.name === 'mtls-from-mesh')!;
  // `as` the workload's own uid: no setpriv (the stock image has none) and no capability needed
  return { ...s, spec: { ...s.spec, probes: [...s.spec.probes, { ...base, name: 'as-own-uid', as: { user: 1000 } }] } };
}

describeAsRoot('stock mode on a real container runtime: node image + agent mounted from the ConfigMap', () => {
  beforeAll(async () => {
    const setup = spawnSync('bash', [path.join(ROOT, 'scripts/docker-setup')], { encoding: 'utf8' });
    if (setup.status !== 0) throw new Error(`scripts/docker-setup failed:\n${setup.stderr}`);
    base = setup.stdout.trim();
    docker('network', 'create', network);
  }, 900_000);

  afterAll(() => {
    for (const id of containers) spawnSync('docker', ['rm', '-f', id]);
    spawnSync('docker', ['network', 'rm', network]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }, 120_000);

  test('the rendered pods run the mounted agent, a probe (also `as` the own uid) reaches the server and is recorded there', async () => {
    const s = scenario();
    expect(agentSource(s).mode).toBe('stock');
    const r = renderScenario(s, { runId: 'ds1', agentBundle: await loadAgentBundle(AGENT_BUNDLE_FILE) });
    const server = startPod(r, 'server', serviceHost(r.map, 'app/server'));
    const client = startPod(r, 'meshclient');
    expect(exec(client, ['id', '-u']).stdout.trim()).toBe('1000');
    const meshclient = s.spec.workloads.find((w) => w.name === 'meshclient')!;
    for (const name of ['mtls-from-mesh', 'as-own-uid']) {
      const probe = s.spec.probes.find((p) => p.name === name)!;
      const req = { ...probeRequest(s, r.map, { probe, nonce: `${name}-${process.pid}`, attempt: 1 }), timeoutMs: { connect: 3000, total: 5000 } };
      const command = callCommand(probe, processUid(s, meshclient));
      expect(command.join(' ')).not.toMatch(/setpriv/);
      const out = exec(client, command, `${JSON.stringify([[req]])}\n`);
      expect(parseCallOutput('client', [req], out).get(req.nonce)?.outcome).toMatchObject({ kind: 'ok', status: 200 });
      const seen = parseQueryOutput('server', exec(server, queryCommand([req.nonce])));
      expect(seen.map((o) => o.nonce)).toEqual([req.nonce]);
    }
  });
});
