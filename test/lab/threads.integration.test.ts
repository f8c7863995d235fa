/**
 * Pod threads: the agent and the sidecar of a pod run as threads of the lab's process. Each must be, for the
 * kernel, exactly what the pod's process would be: in the pod's network namespace, with the pod's uid (what the
 * capture rules' owner match sees on its sockets) and the pod's capabilities — read here from /proc, not from
 * the lab's own bookkeeping. And nothing of them may outlive the lab. Needs root.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { run } from '../../src/targets/lab/exec.js';
import type { LabDeployment } from '../../src/targets/lab/deploy.js';
import { LabTarget } from '../../src/targets/lab/index.js';
import { RUNTIME_DEFAULT_CAPABILITIES } from '../../src/targets/lab/processes.js';
import { capabilityMask } from '../../src/targets/lab/thread/identity.js';
import { makeScenario } from './helpers.js';

const scenario = makeScenario('threads', {
  workloads: [
    { name: 'plain', namespace: 'app', ports: [{ port: 8080, protocol: 'tcp' }] },
    { name: 'admin', namespace: 'app', capabilities: ['NET_ADMIN'] },
    { name: 'rooty', namespace: 'legacy', runAsUser: 0 },
  ],
  probes: [{ name: 'p', from: 'app/admin', to: 'app/plain', port: 8080, protocol: 'tcp', expect: { reach: true } }],
});

let target: LabTarget;
let d: LabDeployment;

beforeAll(async () => {
  target = new LabTarget();
  await target.prepare();
  d = (await target.deploy(scenario)) as LabDeployment;
}, 60_000);

afterAll(async () => {
  await target?.teardown();
});

/** A thread's status fields (Uid, CapEff, …) from /proc. */
function status(tid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/self/task/${tid}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

const hex = (names: readonly string[]) => {
  const [lo, hi] = capabilityMask(names);
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString(16).padStart(16, '0');
};

function pod(key: string) {
  const p = d.pods.get(key);
  if (!p) throw new Error(`no pod ${key}`);
  return p;
}

const netnsInode = (tid: number) => statSync(`/proc/self/task/${tid}/ns/net`).ino;

describe('a pod thread is its pod for the kernel', () => {
  test('agent and sidecar threads are in their pod\'s network namespace, not the host\'s', () => {
    for (const key of ['app/plain', 'app/admin', 'legacy/rooty']) {
      const p = pod(key);
      const inode = statSync(`/run/netns/${p.host.netns}`).ino;
      expect(netnsInode(p.agent!.tid)).toBe(inode);
      if (p.sidecar) expect(netnsInode(p.sidecar.tid)).toBe(inode);
    }
    expect(statSync('/proc/self/ns/net').ino).not.toBe(statSync(`/run/netns/${pod('app/plain').host.netns}`).ino);
  });

  test('a workload without granted capabilities: uid 1000, nothing effective, the runtime\'s bounding set', () => {
    const s = status(pod('app/plain').agent!.tid);
    expect(s.Uid.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
    expect(s.Gid.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
    expect(s.Groups).toBe('');
    expect(s.CapEff).toBe(hex([]));
    expect(s.CapPrm).toBe(hex([]));
    expect(s.CapAmb).toBe(hex([]));
    expect(s.CapBnd).toBe(hex(RUNTIME_DEFAULT_CAPABILITIES));
  });

  test('NET_ADMIN granted to a non-root workload is effective and ambient, and nothing else is', () => {
    const s = status(pod('app/admin').agent!.tid);
    expect(s.Uid.split(/\s+/)[0]).toBe('1000');
    expect(s.CapEff).toBe(hex(['NET_ADMIN']));
    expect(s.CapAmb).toBe(hex(['NET_ADMIN']));
    expect(s.CapBnd).toBe(hex([...RUNTIME_DEFAULT_CAPABILITIES, 'NET_ADMIN']));
  });

  test('a root workload has the runtime\'s default set, not everything root has on the host', () => {
    const s = status(pod('legacy/rooty').agent!.tid);
    expect(s.Uid.split(/\s+/)).toEqual(['0', '0', '0', '0']);
    expect(s.CapEff).toBe(hex(RUNTIME_DEFAULT_CAPABILITIES));
    expect(s.CapEff).not.toBe(hex(['NET_ADMIN', ...RUNTIME_DEFAULT_CAPABILITIES]));
  });

  test('the sidecar is uid 1337 with every capability dropped', () => {
    const s = status(pod('app/plain').sidecar!.tid);
    expect(s.Uid.split(/\s+/)).toEqual(['1337', '1337', '1337', '1337']);
    expect(s.CapEff).toBe(hex([]));
    expect(s.CapBnd).toBe(hex([]));
  });

  test('sockets belong to the thread\'s uid: the agent\'s listener is uid 1000, the sidecar\'s uid 1337', async () => {
    const { stdout } = await run('ip', ['netns', 'exec', pod('app/plain').host.netns, 'ss', '-ltnHe']);
    const owner = (port: number) => new RegExp(`:${port}\\s.*\\buid:(\\d+)`).exec(stdout)?.[1];
    expect(owner(8080)).toBe('1000');
    expect(owner(15001)).toBe('1337');
    expect(owner(15006)).toBe('1337');
  });

  test('the pod resolves names from its own hosts file: the probe reaches app/plain by its service name', async () => {
    const [r] = await target.probe(d, [{ probe: scenario.spec.probes[0], nonce: 'threads-1', attempt: 1 }]);
    expect(r.client.outcome.kind).toBe('ok');
    expect(r.arrived).toHaveLength(1);
  });
});

describe('nothing outlives the lab', () => {
  test('after undeploy no thread of this process is in a lab namespace', async () => {
    const threads = d.threads.length;
    expect(threads).toBe(5); // plain: agent + sidecar, admin: agent + sidecar, rooty (no sidecar in legacy): agent
    await target.undeploy(d);
    const root = statSync('/proc/self/ns/net').ino;
    const elsewhere = readdirSync('/proc/self/task').filter((tid) => {
      try {
        return statSync(`/proc/self/task/${tid}/ns/net`).ino !== root;
      } catch {
        return false; // exited meanwhile
      }
    });
    expect(elsewhere).toEqual([]);
  });
});
