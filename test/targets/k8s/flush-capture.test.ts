/**
 * Defects 3 and 6 of the cluster targets: probes that need capabilities get a container in which the command
 * works (uid 0 plus exactly those capabilities, or a clear refusal), flush-capture fails loudly and restores the
 * pod's nat table, and a pod's flush never overlaps another exec from or to that pod. The shell text runs here
 * for real with stand-ins for iptables and the agent on PATH; test/targets/k8s/docker-exec.test.ts runs it in a container.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, test } from '@jest/globals';
import { callCommand, FLUSH_FAILED, RESTORE_FAILED } from '../../../src/targets/k8s/exec-probe.js';
import { renderScenario, RenderError } from '../../../src/targets/k8s/manifests.js';
import { PodLocks } from '../../../src/targets/k8s/pod-locks.js';
import { ExistingTarget } from '../../../src/targets/existing/index.js';
import { RecordingRunner } from '../../../src/targets/k8s/commands.js';
import { UnsupportedError } from '../../../src/targets/target.js';
import type { Scenario } from '../../../src/scenario/schema.js';
import { FakeApiServer } from './fake-apiserver.js';
import { inMeshOnly } from './fixtures.js';

function withProbes(extra: Partial<Scenario['spec']['probes'][number]>[], runAsUser?: number): Scenario {
  const s = inMeshOnly();
  const base = s.spec.probes.find((p) => p.name === 'mtls-from-mesh')!;
  const workloads = s.spec.workloads.map((w) => (w.name === 'meshclient' ? { ...w, ...(runAsUser !== undefined ? { runAsUser } : {}) } : w));
  return { ...s, spec: { ...s.spec, workloads, probes: [...s.spec.probes, ...extra.map((e, i) => ({ ...base, name: `extra-${i}`, ...e }))] } };
}

function containerOf(s: Scenario, name: string): { securityContext?: Record<string, unknown>; readinessProbe?: unknown } {
  const d = renderScenario(s, { runId: 'r1', agentBundle: '// bundle\n' }).workloads.find(
    (m) => m.kind === 'Deployment' && m.metadata.name === name,
  ) as unknown as {
    spec: { template: { spec: { containers: Array<{ securityContext?: Record<string, unknown> }> } } };
  };
  return d.spec.template.spec.containers[0];
}

describe('securityContext for probes that need capabilities (defect 3)', () => {
  test('as: {user} and flush-capture run the agent as uid 0 with SETUID/SETGID and NET_ADMIN', () => {
    expect(containerOf(withProbes([{ as: { user: 1337 } }]), 'meshclient').securityContext).toEqual({
      runAsUser: 0,
      runAsGroup: 0,
      capabilities: { add: ['SETUID', 'SETGID'] },
    });
    expect(containerOf(withProbes([{ bypass: 'flush-capture' }]), 'meshclient').securityContext).toEqual({
      runAsUser: 0,
      runAsGroup: 0,
      capabilities: { add: ['NET_ADMIN'] },
    });
    // a workload without such probes keeps the unprivileged agent uid
    expect(containerOf(withProbes([]), 'meshclient').securityContext).toEqual({ runAsUser: 1000, runAsGroup: 1000 });
  });

  test('a workload declaring a non-root uid cannot send them: render and check refuse, naming why', async () => {
    const s = withProbes([{ bypass: 'flush-capture' }], 1000);
    expect(() => renderScenario(s, { runId: 'r1' })).toThrow(RenderError);
    expect(() => renderScenario(s, { runId: 'r1' })).toThrow(/runs as uid 1000 .*flush-capture.*no effective capabilities/);
    const server = new FakeApiServer();
    await server.start();
    try {
      const target = new ExistingTarget({
        context: 'fake',
        image: 'registry.example/meshprobe-agent:1',
        kubeConfig: server.kubeConfig(),
        runner: new RecordingRunner(),
        runId: 'r1',
      });
      await target.prepare();
      const err = (() => {
        try {
          target.check(s);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(UnsupportedError);
      expect((err as Error).message).toMatch(/kubernetes#56374/);
    } finally {
      await server.stop();
    }
  });

  test('the agent container is Ready only once serve listens (its control socket exists)', () => {
    expect(containerOf(withProbes([]), 'server').readinessProbe).toMatchObject({ exec: { command: ['test', '-S', '/tmp/meshprobe/control.sock'] } });
  });
});

/** A PATH with iptables-nft(-save/-restore), iptables-legacy*, and node as scripts that log what they were asked. */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function fakeTools(behaviour: { saveFails?: boolean; flushFails?: boolean; restoreFails?: boolean }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mp-flush-'));
  dirs.push(dir);
  const log = path.join(dir, 'log');
  const tool = (name: string, body: string) => {
    writeFileSync(path.join(dir, name), `#!/bin/sh\necho "${name} $*" >>${log}\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  };
  tool(
    'iptables-nft-save',
    behaviour.saveFails
      ? 'echo "Permission denied (you must be root)" >&2; exit 4'
      : 'echo "*nat"; echo "-A PREROUTING -p tcp -j ISTIO_INBOUND"; echo COMMIT',
  );
  tool('iptables-legacy-save', 'echo "iptables-legacy-save: cannot initialize: Table does not exist" >&2; exit 1');
  tool('iptables-nft', behaviour.flushFails ? 'echo "iptables: Permission denied" >&2; exit 4' : 'exit 0');
  tool('iptables-nft-restore', `cat >>${log}; ${behaviour.restoreFails ? 'exit 1' : 'exit 0'}`);
  tool('node', 'read line; echo "{\\"nonce\\":\\"n1\\"}"');
  const run = () => {
    const [cmd, ...args] = callCommand({ bypass: 'flush-capture' });
    const r = spawnSync(cmd, args, { input: '[[{"nonce":"n1"}]]\n', env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: 'utf8' });
    let logged = '';
    try {
      logged = readFileSync(log, 'utf8');
    } catch {
      // nothing ran
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, log: logged.trim().split('\n') };
  };
  return { run };
}

describe('flush-capture command (defects 3 and 6)', () => {
  test('saves the nat table, flushes it, runs the probes, then restores exactly what was saved', () => {
    const r = fakeTools({}).run();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('"nonce":"n1"');
    expect(r.log).toEqual([
      'iptables-nft-save -t nat',
      'iptables-legacy-save -t nat',
      'iptables-nft -t nat -F',
      'node /agent/meshprobe-agent.mjs call --chains --stagger 100',
      'iptables-nft-restore ',
      '*nat',
      '-A PREROUTING -p tcp -j ISTIO_INBOUND',
      'COMMIT',
    ]);
  });

  test('a flush that is refused ends the exec non-zero with the reason, and the probes are not sent', () => {
    const r = fakeTools({ flushFails: true }).run();
    expect(r.status).toBe(FLUSH_FAILED);
    expect(r.stderr).toMatch(/iptables-nft -t nat -F failed/);
    expect(r.log.some((l) => l.startsWith('node '))).toBe(false);
    const unreadable = fakeTools({ saveFails: true }).run();
    expect(unreadable.status).toBe(FLUSH_FAILED);
    expect(unreadable.stderr).toMatch(/cannot read the pod's nat table: Permission denied/);
  });

  test('a restore that fails is reported, never a silent success', () => {
    const r = fakeTools({ restoreFails: true }).run();
    expect(r.status).toBe(RESTORE_FAILED);
    expect(r.stderr).toMatch(/capture may be off/);
  });

  test('no `|| true` anywhere in the probe commands', () => {
    for (const probe of [{}, { as: { user: 1337 } }, { bypass: 'flush-capture' as const }])
      expect(callCommand(probe).join(' ')).not.toMatch(/\|\|\s*true/);
  });
});

describe('per-pod lock (defect 6)', () => {
  test('exclusive waits for shared holders and blocks later shared users; shared users share', async () => {
    const locks = new PodLocks();
    const order: string[] = [];
    const r1 = await locks.acquire(['a'], []);
    const r2 = await locks.acquire(['a', 'b'], []);
    const flush = locks.acquire([], ['a']).then((r) => (order.push('flush'), r));
    const later = locks.acquire(['a'], []).then((r) => (order.push('later'), r));
    const other = await locks.acquire(['b'], []);
    order.push('other');
    r1();
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(['other']);
    r2();
    (await flush)();
    (await later)();
    other();
    expect(order).toEqual(['other', 'flush', 'later']);
  });

  let server: FakeApiServer | undefined;
  afterEach(async () => server?.stop());

  test('a flush-capture batch never overlaps another exec from or to the same pod', async () => {
    server = new FakeApiServer({ callMs: 60 });
    await server.start();
    const target = new ExistingTarget({
      context: 'fake',
      image: 'registry.example/meshprobe-agent:1',
      kubeConfig: server.kubeConfig(),
      runner: new RecordingRunner(),
      runId: 'r1',
      xdsSettleMs: 5,
      readyTimeoutMs: 3000,
    });
    await target.prepare();
    const s = withProbes([{ bypass: 'flush-capture' }]);
    target.check(s);
    const dep = await target.deploy(s);
    const normal = s.spec.probes.find((p) => p.name === 'mtls-from-mesh')!;
    const flush = s.spec.probes.find((p) => p.bypass === 'flush-capture')!;
    await Promise.all([
      target.probe(dep, [{ probe: normal, nonce: 'a1', attempt: 1 }]),
      target.probe(dep, [{ probe: flush, nonce: 'f1', attempt: 1 }]),
      target.probe(dep, [{ probe: normal, nonce: 'a2', attempt: 1 }]),
    ]);
    const calls = server.execs.filter((e) => e.command.join(' ').includes(' call') && e.pod.startsWith('meshclient'));
    expect(calls).toHaveLength(3);
    const f = calls.find((e) => e.command.join(' ').includes('iptables'))!;
    for (const e of calls.filter((c) => c !== f)) expect(e.ended! <= f.started || e.started >= f.ended!).toBe(true);
    await target.undeploy(dep);
    await target.teardown();
  });
});
