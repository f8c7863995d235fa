/**
 * Another local user against a live lab started under `umask 000`: as uids 1000, 1337 (the sidecar's) and 65534,
 * real processes (setpriv, then node) try to plant symlinks in place of the lab's files, replace or connect to
 * the agents' control sockets, write into every lab directory and read the keys. Every attempt must fail, the
 * lab's state must be root's with its exact modes, and the probes' results and the diagnostics a report shows
 * must be the same after the attacks as before. Needs root (it creates namespaces and switches uids): skipped
 * otherwise.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { LabDeployment } from '../../src/targets/lab/deploy.js';
import { LabTarget } from '../../src/targets/lab/index.js';
import { LABS_DIR, STATE_ROOT } from '../../src/targets/lab/state.js';
import type { AttemptResult } from '../../src/targets/target.js';
import { attempts, ensureAgentBundle, labLeftovers, makeScenario } from '../targets/lab/helpers.js';
import { describeAsRoot } from '../support/as-root.js';

const scenario = makeScenario('local-user', {
  namespaces: [{ name: 'app' }, { name: 'legacy', sidecarInjection: false }],
  workloads: [
    { name: 'client', namespace: 'app' },
    { name: 'server', namespace: 'app', ports: [{ port: 8080, protocol: 'http' }] },
    { name: 'db', namespace: 'legacy', ports: [{ port: 5432, protocol: 'tcp' }] },
  ],
  resources: [
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'app' },
      spec: { mtls: { mode: 'STRICT' } },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'deny-all', namespace: 'legacy' },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    },
  ],
  probes: [
    { name: 'mtls-allowed', from: 'app/client', to: 'app/server', port: 8080, protocol: 'http', expect: { reach: true, mtls: true } },
    { name: 'netpol-blocked', from: 'app/client', to: 'legacy/db', port: 5432, protocol: 'tcp', expect: { reach: false } },
  ],
});

/** Runs as the attacking uid: every operation's outcome, 'ok' or its error code. */
const ATTACKER = `
import fs from 'node:fs';
import net from 'node:net';
const a = JSON.parse(process.argv[1]);
const out = { uid: process.getuid() };
const op = async (name, fn) => { try { await fn(); out[name] = 'ok'; } catch (e) { out[name] = e.code ?? String(e.message); } };
const listen = (p) => new Promise((res, rej) => { const s = net.createServer(); s.once('error', rej); s.listen(p, () => { s.close(); res(); }); });
const connect = (p) => new Promise((res, rej) => { const c = net.connect(p); c.once('connect', () => { c.destroy(); res(); }); c.once('error', rej); });
for (const pod of a.pods) {
  await op('symlink ' + pod + '/sidecar.log', () => fs.symlinkSync(a.canary, pod + '/sidecar.log.new'));
  await op('unlink ' + pod + '/sidecar.log', () => fs.unlinkSync(pod + '/sidecar.log'));
  await op('append ' + pod + '/sidecar.log', () => fs.appendFileSync(pod + '/sidecar.log', 'forged'));
  await op('unlink ' + pod + '/control.sock', () => fs.unlinkSync(pod + '/control.sock'));
  await op('listen ' + pod + '/control.sock', () => listen(pod + '/control.sock'));
  await op('connect ' + pod + '/control.sock', () => connect(pod + '/control.sock'));
  await op('write ' + pod + '/x', () => fs.writeFileSync(pod + '/x', 'x'));
  await op('chmod ' + pod, () => fs.chmodSync(pod, 0o777));
}
for (const dir of a.dirs) {
  await op('write ' + dir + '/planted', () => fs.writeFileSync(dir + '/planted', 'x'));
  await op('symlink ' + dir + '/planted-link', () => fs.symlinkSync(a.canary, dir + '/planted-link'));
  await op('mkdir ' + dir + '/planted-dir', () => fs.mkdirSync(dir + '/planted-dir'));
}
for (const f of a.replace) {
  await op('write ' + f, () => fs.writeFileSync(f, 'forged'));
  await op('unlink ' + f, () => fs.unlinkSync(f));
  await op('rename ' + f, () => fs.renameSync(f, f + '.old'));
}
for (const f of a.secret) await op('read ' + f, () => fs.readFileSync(f));
await op('readdir ' + a.lab, () => fs.readdirSync(a.lab));
// What a pod process legitimately needs: must keep working (and shows the attacker reached the right paths).
for (const f of a.readable) await op('read ' + f, () => fs.readFileSync(f));
console.log(JSON.stringify(out));
`;

function attack(uid: number, args: object): Record<string, string | number> {
  const stdout = execFileSync(
    'setpriv',
    [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', process.execPath, '--input-type=module', '-e', ATTACKER, JSON.stringify(args)],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return JSON.parse(stdout) as Record<string, string | number>;
}

type Outcome = { kind: string; reached: boolean; identity?: string };
async function probeAll(target: LabTarget, d: LabDeployment): Promise<Record<string, Outcome>> {
  const results: AttemptResult[] = await target.probe(d, attempts(scenario));
  return Object.fromEntries(
    results.map((r) => [r.probeName, { kind: r.client.outcome.kind, reached: r.arrived.length > 0, identity: r.arrived[0]?.peer?.identity }]),
  );
}

/** Every entry under `dir` with its owner, type and permission bits (lstat: symlinks are reported, not followed). */
function walk(dir: string, out: { path: string; uid: number; type: string; mode: number }[] = []): typeof out {
  const st = lstatSync(dir);
  out.push({ path: dir, uid: st.uid, type: 'dir', mode: st.mode & 0o7777 });
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = lstatSync(p);
    if (s.isDirectory()) walk(p, out);
    else
      out.push({
        path: p,
        uid: s.uid,
        type: s.isSocket() ? 'socket' : s.isSymbolicLink() ? 'symlink' : s.isFile() ? 'file' : 'other',
        mode: s.mode & 0o7777,
      });
  }
  return out;
}

// Needs root: it starts a lab and runs attacks as other uids.
describeAsRoot('a local user against a live lab started under umask 000', () => {
  let target: LabTarget;
  let d: LabDeployment;
  let before: Record<string, Outcome>;
  let canaryDir: string;
  let canary: string;
  const SECRET = `root-only-secret-${process.pid}`;
  let oldUmask: number;
  const hostSysctls = () =>
    ['ip_forward', 'ping_group_range', 'ip_unprivileged_port_start'].map((k) => readFileSync(`/proc/sys/net/ipv4/${k}`, 'utf8'));
  let hostBefore: string[];

  beforeAll(async () => {
    ensureAgentBundle();
    canaryDir = mkdtempSync(join(tmpdir(), 'mp-canary-'));
    canary = join(canaryDir, 'secret');
    writeFileSync(canary, SECRET, { mode: 0o600 });
    hostBefore = hostSysctls();
    oldUmask = process.umask(0);
    target = new LabTarget();
    await target.prepare();
    d = (await target.deploy(scenario)) as LabDeployment;
    before = await probeAll(target, d);
  }, 90_000);

  afterAll(async () => {
    const id = d?.labId;
    await target?.teardown();
    process.umask(oldUmask);
    rmSync(canaryDir, { recursive: true, force: true });
    if (id) expect(labLeftovers(id)).toEqual([]);
  });

  test("the lab works before the attacks (mTLS with the client's identity; NetworkPolicy drops)", () => {
    expect(before['mtls-allowed']).toEqual({ kind: 'ok', reached: true, identity: 'spiffe://cluster.local/ns/app/sa/client' });
    expect(before['netpol-blocked'].reached).toBe(false);
  });

  test("the sysctls the lab writes itself (no shell) are set in each namespace, not in the host's", () => {
    const get = (ns: string, key: string) => execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', key], { encoding: 'utf8' }).trim();
    expect(get(d.plan.nodeNetns, 'net.ipv4.ip_forward')).toBe('1');
    for (const h of d.plan.hosts) {
      expect(get(h.netns, 'net.ipv4.ping_group_range').split(/\s+/)).toEqual(['0', '2147483647']);
      expect(get(h.netns, 'net.ipv4.ip_unprivileged_port_start')).toBe('0');
    }
    expect(hostSysctls()).toEqual(hostBefore);
  });

  test("state is root's with exact modes despite umask 000: 0700 pod dirs, 0600 files and sockets, public parts read-only", () => {
    const staged = dirname(dirname(d.programs!.agent));
    const entries = [...walk(d.dir), ...walk(staged)];
    expect(entries.length).toBeGreaterThan(10);
    for (const e of entries) {
      expect({ path: e.path, uid: e.uid }).toEqual({ path: e.path, uid: 0 });
      const expected =
        e.path === d.dir || e.path === staged
          ? 0o711
          : e.type === 'dir'
            ? e.path.endsWith('/bin')
              ? 0o755
              : 0o700
            : e.path.endsWith('.crt') || e.path.endsWith('.mjs')
              ? 0o644
              : 0o600;
      expect({ path: e.path, type: e.type, mode: e.mode.toString(8) }).toEqual({
        path: e.path,
        type: e.type === 'socket' ? 'socket' : e.type === 'dir' ? 'dir' : 'file',
        mode: expected.toString(8),
      });
    }
    expect(entries.filter((e) => e.type === 'socket').length).toBe(3); // one control socket per agent
    for (const p of [STATE_ROOT, LABS_DIR]) expect([lstatSync(p).uid, (lstatSync(p).mode & 0o777).toString(8)]).toEqual([0, '755']);
    for (const h of d.plan.hosts) {
      const dir = `/etc/netns/${h.netns}`;
      expect([lstatSync(dir).uid, (lstatSync(dir).mode & 0o777).toString(8)]).toEqual([0, '755']);
      for (const f of ['hosts', 'resolv.conf'])
        expect([lstatSync(join(dir, f)).uid, (lstatSync(join(dir, f)).mode & 0o777).toString(8)]).toEqual([0, '644']);
    }
  });

  test.each([1000, 1337, 65534])('uid %i can plant, replace, connect to and write nothing; it can still read what pods must read', (uid) => {
    const pods = [...d.pods.values()].map((p) => p.dir);
    const staged = dirname(dirname(d.programs!.agent));
    const netnsDirs = d.plan.hosts.map((h) => `/etc/netns/${h.netns}`);
    const keys = readdirSync(d.dir)
      .filter((f) => f.endsWith('.key'))
      .map((f) => join(d.dir, f));
    expect(keys.length).toBeGreaterThan(0);
    const args = {
      canary,
      lab: d.dir,
      pods,
      dirs: [STATE_ROOT, LABS_DIR, d.dir, staged, dirname(d.programs!.agent), ...netnsDirs, '/etc/netns'],
      replace: [
        join(d.dir, 'ca-trusted.crt'),
        join(d.dir, 'owner.json'),
        d.programs!.agent,
        join(staged, 'runtime.log'),
        ...netnsDirs.map((n) => join(n, 'hosts')),
      ],
      secret: [...keys, join(d.dir, 'owner.json'), join(staged, 'runtime.log'), canary],
      readable: [join(d.dir, 'ca-trusted.crt'), d.programs!.agent, join(netnsDirs[0], 'hosts')],
    };
    const got = attack(uid, args);
    expect(got.uid).toBe(uid);
    const readable = new Set(args.readable.map((f) => `read ${f}`));
    const attempted = Object.entries(got).filter(([k]) => k !== 'uid');
    expect(attempted.length).toBeGreaterThan(60);
    for (const [what, result] of attempted) {
      if (readable.has(what)) expect({ what, result }).toEqual({ what, result: 'ok' });
      else expect({ what, result: ['EACCES', 'EPERM'].includes(String(result)) }).toEqual({ what, result: true });
    }
    expect(readFileSync(canary, 'utf8')).toBe(SECRET);
  });

  test('after the attacks the probes give the same results and the diagnostics show only what the lab wrote', async () => {
    expect(await probeAll(target, d)).toEqual(before);
    const diags = await target.diagnose(
      d,
      scenario.spec.probes.map((p) => p.name),
    );
    const text = diags.map((x) => `${x.title}\n${x.body}`).join('\n');
    expect(text).toContain('sidecar decision log of app/server');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('forged');
    expect(text).not.toContain('not shown');
  });
});
