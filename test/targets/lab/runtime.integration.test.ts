/**
 * The lab runtime runs every pod's agent and sidecar. For the kernel each socket must be the pod's: in the pod's
 * network namespace, owned by the pod's uid (what the capture rules' owner match sees) — read here with `ss`, not
 * from the lab's bookkeeping. The runtime itself never stays in a pod's namespace, and a stopped pod holds no
 * socket. Needs root.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { run } from '../../../src/targets/lab/exec.js';
import { stopPods, type LabDeployment } from '../../../src/targets/lab/deploy.js';
import { LabTarget } from '../../../src/targets/lab/index.js';
import { makeScenario } from './helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('runtime (on the lab, as root)', () => {
  const scenario = makeScenario('runtime', {
    workloads: [
      {
        name: 'plain',
        namespace: 'app',
        ports: [
          { port: 8080, protocol: 'tcp' },
          { port: 5353, protocol: 'udp' },
          { port: 7070, protocol: 'tcp' },
        ],
      },
      { name: 'client', namespace: 'app' },
      { name: 'rooty', namespace: 'legacy', runAsUser: 0, ports: [{ port: 80, protocol: 'http' }] },
    ],
    resources: [
      // Port 7070 of app/plain is dropped: a probe there waits for its timeout.
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'plain', namespace: 'app' },
        spec: { podSelector: { matchLabels: { app: 'plain' } }, ingress: [{ ports: [{ port: 8080 }, { port: 5353, protocol: 'UDP' }] }] },
      },
    ],
    probes: [
      { name: 'tcp', from: 'app/client', to: 'app/plain', port: 8080, protocol: 'tcp', expect: { reach: true } },
      { name: 'dropped', from: 'app/client', to: 'app/plain', port: 7070, protocol: 'tcp', expect: { reach: false, failure: 'timeout' } },
      { name: 'icmp', from: 'app/client', to: 'legacy/rooty', protocol: 'icmp', expect: { reach: true } },
    ],
  });

  let target: LabTarget;
  let d: LabDeployment;

  beforeAll(async () => {
    target = new LabTarget({ earlyVerdicts: false }); // the dropped probe below waits its timeouts: what is tested is that they overlap;
    await target.prepare();
    d = (await target.deploy(scenario)) as LabDeployment;
  }, 60_000);

  afterAll(async () => {
    await target?.teardown();
  });

  const netns = (key: string) => {
    const p = d.pods.get(key);
    if (!p) throw new Error(`no pod ${key}`);
    return p.host.netns;
  };

  async function ss(key: string, args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', netns(key), 'ss', '-Hne', ...args])).stdout;
  }

  /** The owner of the socket on `port` (ss leaves uid 0 out), or undefined when there is none. */
  const owner = (listing: string, port: number) => {
    const line = listing.split('\n').find((l) => new RegExp(`:${port}\\s`).test(l));
    return line === undefined ? undefined : (/\buid:(\d+)/.exec(line)?.[1] ?? '0');
  };

  describe("pod sockets are the pod's", () => {
    test("listeners: the agent's as the workload's uid, the sidecar's as 1337, each in its own pod", async () => {
      const plain = await ss('app/plain', ['-ltu']);
      expect(owner(plain, 8080)).toBe('1000');
      expect(owner(plain, 5353)).toBe('1000');
      expect(owner(plain, 15001)).toBe('1337');
      expect(owner(plain, 15006)).toBe('1337');
      const rooty = await ss('legacy/rooty', ['-lt']);
      expect(owner(rooty, 80)).toBe('0');
      expect(owner(rooty, 15001)).toBeUndefined(); // legacy: no sidecar
      expect(owner(await ss('app/client', ['-lt']), 8080)).toBeUndefined();
    });

    test("a probe by service name goes out as the workload's uid, through its sidecar (uid 1337) and over mTLS", async () => {
      const [r] = await target.probe(d, [{ probe: scenario.spec.probes[0], nonce: 'runtime-1', attempt: 1 }]);
      expect(r.client.outcome.kind).toBe('ok');
      expect(r.arrived[0]?.peer?.identity).toBe('spiffe://cluster.local/ns/app/sa/client');
      // The capture rules sent the workload's connection to its sidecar: the sidecar logged it as outbound.
      const outbound = /outbound 10\.244\.1\.3:\d+ -> 10\.244\.1\.2:8080 connected/;
      for (let i = 0; i < 50 && !outbound.test(d.pods.get('app/client')?.sidecarLog?.() ?? ''); i++) await new Promise((r) => setTimeout(r, 20));
      expect(d.pods.get('app/client')?.sidecarLog?.()).toMatch(outbound);
    });

    test("the workload's connections carry its gid too (what `-m owner --gid-owner` matches)", async () => {
      const ns = netns('app/client');
      // A rule that only counts (ACCEPT in the filter table changes nothing): packets from sockets of gid 1000.
      await run('ip', ['netns', 'exec', ns, 'iptables', '-I', 'OUTPUT', '-m', 'owner', '--gid-owner', '1000', '-j', 'ACCEPT']);
      const [r] = await target.probe(d, [{ probe: scenario.spec.probes[0], nonce: 'runtime-gid', attempt: 1 }]);
      expect(r.client.outcome.kind).toBe('ok');
      const { stdout } = await run('ip', ['netns', 'exec', ns, 'iptables', '-L', 'OUTPUT', '-v', '-n', '-x']);
      const counted = stdout.split('\n').find((l) => l.includes('owner GID match 1000'));
      expect(Number(counted?.trim().split(/\s+/)[0])).toBeGreaterThan(0);
      await run('ip', ['netns', 'exec', ns, 'iptables', '-D', 'OUTPUT', '-m', 'owner', '--gid-owner', '1000', '-j', 'ACCEPT']);
    });

    test("a probe's consecutive attempts resume the mTLS session, and the peer is still the verified one", async () => {
      const probe = scenario.spec.probes[0];
      const results = await target.probe(
        d,
        [1, 2, 3].map((n) => ({ probe, nonce: `runtime-resume-${n}`, attempt: n })),
      );
      for (const r of results) expect(r.arrived[0]?.peer?.identity).toBe('spiffe://cluster.local/ns/app/sa/client');
      // The decision log is written in batches: give the last lines a moment to reach the file.
      const resumed = () =>
        (d.pods.get('app/plain')?.sidecarLog?.() ?? '')
          .split('\n')
          .filter(
            (l) =>
              l.includes('-> 10.244.1.2:8080 connected') &&
              l.includes('"resumed":true') &&
              l.includes('"peer":"spiffe://cluster.local/ns/app/sa/client"'),
          );
      for (let i = 0; i < 50 && resumed().length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(resumed().length).toBeGreaterThanOrEqual(2);
    });

    test('a probe that waits for a timeout does not wait once per attempt: its attempts overlap after a moment', async () => {
      const probe = scenario.spec.probes[1];
      const started = Date.now();
      const results = await target.probe(
        d,
        [1, 2, 3].map((n) => ({ probe, nonce: `runtime-drop-${n}`, attempt: n })),
      );
      const took = Date.now() - started;
      expect(results.map((r) => r.client.outcome.kind)).toEqual(['timeout', 'timeout', 'timeout']);
      const one = results[0].client.timings.totalMs;
      expect(took).toBeLessThan(one * 1.5); // one after another would take three times as long
    }, 30_000);

    test("ping runs in the pod, as the workload's uid, and is answered", async () => {
      const [r] = await target.probe(d, [{ probe: scenario.spec.probes[2], nonce: 'runtime-2', attempt: 1 }]);
      expect(r.client.outcome).toMatchObject({ kind: 'icmp', reply: true });
    });

    test("a lab's pods are spread over the runtime's threads, and pods on different threads reach each other", async () => {
      const placement = d.runtime.placementOf(d.labId);
      const keys = [...d.pods.values()].map((p) => p.runtimeKey);
      expect([...placement.keys()].sort()).toEqual([...keys].sort());
      const threads = new Set(placement.values());
      expect(threads.has(-1)).toBe(false);
      // One thread per core, at most four: a large lab uses every core, not one.
      expect(threads.size).toBe(Math.min(keys.length, Math.min(4, availableParallelism())));
      if (threads.size < 2) return;
      const on = (key: string) => placement.get(d.pods.get(key)?.runtimeKey ?? '');
      // legacy/rooty answers HTTP on 80; a client on another thread calls it, through its sidecar when it has one.
      const from = ['app/client', 'app/plain'].find((k) => on(k) !== on('legacy/rooty'));
      if (!from) throw new Error('every pod is on the thread of legacy/rooty');
      const [r] = await target.probe(d, [
        {
          probe: { name: 'across', from, to: 'legacy/rooty', port: 80, protocol: 'http', expect: { reach: true } },
          nonce: 'runtime-across',
          attempt: 1,
        },
      ]);
      expect(r.client.outcome.kind).toBe('ok');
      expect(r.arrived.length).toBe(1);
    });

    test("no thread of the lab's process stays in a pod's namespace", () => {
      const home = statSync('/proc/self/ns/net').ino;
      const away = readdirSync('/proc/self/task').filter((tid) => {
        try {
          return statSync(`/proc/self/task/${tid}/ns/net`).ino !== home;
        } catch {
          return false;
        }
      });
      expect(away).toEqual([]);
    });
  });

  describe('stopping', () => {
    test("a stopped pod holds no socket: no listener, no connection left in any of the lab's pods", async () => {
      await stopPods(d);
      for (const key of ['app/plain', 'app/client', 'legacy/rooty']) expect((await ss(key, ['-atu', 'exclude', 'time-wait'])).trim()).toBe('');
      await target.undeploy(d);
    });
  });
});
