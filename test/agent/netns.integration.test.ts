/**
 * Outcomes that need a real network between two namespaces: a silently dropped SYN (timeout, connect phase) and an
 * ICMP echo that gets no reply. Client and server live in a test namespace pair joined by a veth; the DROP rules
 * sit inside the server namespace. The bundled agent runs on both sides, as it does in the lab.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ProbeRequest, ProbeResult } from '../../src/agent/types.js';
import * as fx from './fixtures.js';
import { describeAsRoot } from '../support/as-root.js';

describeAsRoot('the agent between network namespaces (as root)', () => {
  const id = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const CLIENT = `mp-t-${id}-c`;
  const SERVER = `mp-t-${id}-s`;
  const CLIENT_IP = '10.199.0.1';
  const SERVER_IP = '10.199.0.2';
  const DROPPED_PORT = 9;
  const AGENT_PORT = 8080;

  let tmp: ReturnType<typeof fx.tempDir>;
  let bundle: string;
  let serverAgent: ChildProcess | undefined;

  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
  const inNs = (ns: string, ...cmd: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'pipe' });

  function callFromClient(requests: ProbeRequest[]): ProbeResult[] {
    const out = execFileSync('ip', ['netns', 'exec', CLIENT, process.execPath, bundle, 'call'], {
      input: JSON.stringify(requests),
      timeout: 20_000,
    });
    return out
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ProbeResult);
  }

  beforeAll(async () => {
    tmp = fx.tempDir();
    bundle = join(tmp.dir, 'meshprobe-agent.mjs');
    fx.bundleAgent(bundle);
    ip('netns', 'add', CLIENT);
    ip('netns', 'add', SERVER);
    ip('link', 'add', 'c0', 'netns', CLIENT, 'type', 'veth', 'peer', 'name', 's0', 'netns', SERVER);
    for (const [ns, dev, addr] of [
      [CLIENT, 'c0', CLIENT_IP],
      [SERVER, 's0', SERVER_IP],
    ] as const) {
      ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    inNs(SERVER, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', String(DROPPED_PORT), '-j', 'DROP');
    inNs(SERVER, 'iptables', '-A', 'INPUT', '-p', 'icmp', '--icmp-type', 'echo-request', '-j', 'DROP');

    const config = join(tmp.dir, 'serve.json');
    writeFileSync(
      config,
      JSON.stringify({ ports: [{ port: AGENT_PORT, protocol: 'tcp' }], control: join(tmp.dir, 'ctl.sock'), name: 'netns-server' }),
    );
    serverAgent = spawn('ip', ['netns', 'exec', SERVER, process.execPath, bundle, 'serve', '--config', config], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: serverAgent.stdout! });
    await new Promise<void>((resolve, reject) => {
      lines.once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`agent said ${l}`))));
      serverAgent!.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
    });
  }, 30_000);

  afterAll(async () => {
    if (serverAgent && serverAgent.exitCode === null) {
      const exited = new Promise((r) => serverAgent!.once('exit', r));
      serverAgent.kill('SIGTERM');
      await exited;
    }
    for (const ns of [CLIENT, SERVER]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not created (setup failed earlier)
      }
    }
    tmp?.remove();
  });

  describe('between two network namespaces', () => {
    it('reaches the agent across the veth and sees the client namespace address (control)', () => {
      const [r] = callFromClient([{ nonce: `ok-${id}`, protocol: 'tcp', host: SERVER_IP, port: AGENT_PORT }]);
      expect(r.outcome).toMatchObject({ kind: 'ok', observation: { workload: 'netns-server', source: { address: CLIENT_IP } } });
    });
    it('times out in the connect phase when the SYN is dropped, while an undropped closed port is refused', () => {
      const results = callFromClient([
        { nonce: `drop-${id}`, protocol: 'tcp', host: SERVER_IP, port: DROPPED_PORT, timeoutMs: { connect: 400 } },
        { nonce: `closed-${id}`, protocol: 'tcp', host: SERVER_IP, port: DROPPED_PORT + 1, timeoutMs: { connect: 400 } },
      ]);
      const byNonce = Object.fromEntries(results.map((r) => [r.nonce, r.outcome]));
      expect(byNonce[`drop-${id}`]).toEqual({ kind: 'timeout', phase: 'connect' });
      expect(byNonce[`closed-${id}`]).toEqual({ kind: 'refused' });
    });
    it('gets no ICMP reply from the namespace that drops echo requests, and a reply from its own address', () => {
      const results = callFromClient([
        { nonce: `icmp-drop-${id}`, protocol: 'icmp', host: SERVER_IP, timeoutMs: { connect: 500 } },
        { nonce: `icmp-self-${id}`, protocol: 'icmp', host: CLIENT_IP, timeoutMs: { connect: 500 } },
      ]);
      const byNonce = Object.fromEntries(results.map((r) => [r.nonce, r.outcome]));
      expect(byNonce[`icmp-drop-${id}`]).toEqual({ kind: 'icmp', reply: false });
      expect(byNonce[`icmp-self-${id}`]).toMatchObject({ kind: 'icmp', reply: true });
    });
  });
});
