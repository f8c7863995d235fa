/**
 * Every outcome class produced for real over loopback, against the agent's own listeners (started in-process)
 * and against servers that misbehave in the ways a mesh does (reset, close, 403).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { runProbe, runProbes } from '../../src/agent/call.js';
import { callChainsViaControl, callViaControl, queryObservations } from '../../src/agent/control.js';
import { startAgent, type RunningAgent } from '../../src/agent/serve.js';
import type { ProbeRequest, ProbeResult } from '../../src/agent/types.js';
import * as fx from './fixtures.js';

const LO = '127.0.0.1';
let tmp: ReturnType<typeof fx.tempDir>;
let certs: fx.Certs;
let agent: RunningAgent;
let sidecarAgent: RunningAgent;
const ports = { tcp: 0, http: 0, https: 0, udp: 0, sidecarHttp: 0 };
const cleanups: (() => Promise<void>)[] = [];
let seq = 0;
const nonce = () => `n${process.pid}-${++seq}`;

async function probe(r: Omit<ProbeRequest, 'nonce'>): Promise<ProbeResult> {
  return runProbe({ nonce: nonce(), ...r });
}

beforeAll(async () => {
  tmp = fx.tempDir();
  certs = fx.makeCerts(tmp.dir);
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await fx.freePort();
  agent = await startAgent({
    name: 'server-a',
    control: join(tmp.dir, 'control.sock'),
    ports: [
      { port: ports.tcp, protocol: 'tcp' },
      { port: ports.http, protocol: 'http' },
      { port: ports.https, protocol: 'https', certFile: certs.serverCert, keyFile: certs.serverKey },
      { port: ports.udp, protocol: 'udp' },
    ],
  });
  sidecarAgent = await startAgent({
    control: join(tmp.dir, 'control2.sock'),
    behindSidecar: true,
    ports: [{ port: ports.sidecarHttp, protocol: 'http' }],
  });
});

afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
  await agent?.close();
  await sidecarAgent?.close();
  tmp?.remove();
});

async function server<T extends fx.Running>(p: Promise<T>): Promise<T> {
  const s = await p;
  cleanups.push(() => s.close());
  return s;
}

describe('tcp', () => {
  it('is ok with the observation the agent recorded, and the control socket returns it afterwards', async () => {
    const r = await probe({ protocol: 'tcp', host: LO, port: ports.tcp });
    expect(r.outcome.kind).toBe('ok');
    if (r.outcome.kind !== 'ok') return;
    expect(r.outcome.observation).toMatchObject({ nonce: r.nonce, protocol: 'tcp', workload: 'server-a', local: { port: ports.tcp } });
    expect(r.outcome.observation?.source.address).toBe(LO);
    expect(r.timings.connectMs).toBeGreaterThanOrEqual(0);
    expect(r.bytes.sent).toBe(`MESHPROBE ${r.nonce}\n`.length);
    const seen = await queryObservations(join(tmp.dir, 'control.sock'), [r.nonce, 'never-sent']);
    expect(seen[r.nonce]).toHaveLength(1);
    expect(seen[r.nonce][0].source.port).toBe(r.outcome.observation?.source.port);
    expect(seen['never-sent']).toEqual([]);
  });
  it('a running agent sends a batch through its control socket and classifies each outcome', async () => {
    const closed = await fx.freePort();
    const batch: ProbeRequest[] = [
      { nonce: nonce(), protocol: 'tcp', host: LO, port: ports.tcp },
      { nonce: nonce(), protocol: 'http', host: LO, port: ports.http },
      { nonce: nonce(), protocol: 'tcp', host: LO, port: closed },
    ];
    const results = await callViaControl(join(tmp.dir, 'control2.sock'), batch, { timeoutMs: 10_000 });
    const byNonce = new Map(results.map((r) => [r.nonce, r.outcome.kind]));
    expect([...batch.map((b) => byNonce.get(b.nonce))]).toEqual(['ok', 'ok', 'refused']);
    const seen = await queryObservations(join(tmp.dir, 'control.sock'), [batch[0].nonce, batch[1].nonce]);
    expect(seen[batch[0].nonce]).toHaveLength(1);
    expect(seen[batch[1].nonce][0].protocol).toBe('http');
  });
  it('a running agent sends chains of requests in one query: a hanging request delays its chain only briefly', async () => {
    const silent = await server(fx.tcpServer('silent'));
    const slow: ProbeRequest = { nonce: nonce(), protocol: 'tcp', host: LO, port: silent.port, timeoutMs: { connect: 1_000, total: 1_500 } };
    const after: ProbeRequest = { nonce: nonce(), protocol: 'tcp', host: LO, port: ports.tcp };
    const quick = [1, 2, 3].map((): ProbeRequest => ({ nonce: nonce(), protocol: 'http', host: LO, port: ports.http }));
    const t = performance.now();
    const results = await callChainsViaControl(join(tmp.dir, 'control2.sock'), [[slow, after], quick], {
      concurrency: 4,
      staggerMs: 100,
      timeoutMs: 10_000,
    });
    expect(performance.now() - t).toBeLessThan(3_000);
    const byNonce = new Map(results.map((r) => [r.nonce, r.outcome.kind]));
    expect(byNonce.get(slow.nonce)).toBe('timeout');
    expect([after, ...quick].map((r) => byNonce.get(r.nonce))).toEqual(['ok', 'ok', 'ok', 'ok']);
    // `after` was sent while `slow` still waited: it finished first.
    expect(results.findIndex((r) => r.nonce === after.nonce)).toBeLessThan(results.findIndex((r) => r.nonce === slow.nonce));
  });
  it('the control socket names the faulty request of a malformed chain', async () => {
    await expect(
      callChainsViaControl(join(tmp.dir, 'control.sock'), [[], [{ nonce: 'x', protocol: 'tcp', host: LO } as ProbeRequest]], { timeoutMs: 5_000 }),
    ).rejects.toThrow(/chain\[1\]\.request\[0\]\.port: must be an integer/);
  });
  it('the control socket rejects a malformed call batch with the faulty field named', async () => {
    await expect(
      callViaControl(join(tmp.dir, 'control.sock'), [{ nonce: 'x', protocol: 'tcp', host: LO } as ProbeRequest], { timeoutMs: 5_000 }),
    ).rejects.toThrow(/request\[0\]\.port: must be an integer/);
  });
  it('is refused on a closed port', async () => {
    const r = await probe({ protocol: 'tcp', host: LO, port: await fx.freePort() });
    expect(r.outcome).toEqual({ kind: 'refused' });
  });
  it('is reset when the server accepts then resets', async () => {
    const s = await server(fx.tcpServer('reset'));
    const r = await probe({ protocol: 'tcp', host: LO, port: s.port });
    expect(r.outcome.kind).toBe('reset');
  });
  it('is eof when the server accepts then closes without a reply', async () => {
    const s = await server(fx.tcpServer('close'));
    const r = await probe({ protocol: 'tcp', host: LO, port: s.port });
    expect(r.outcome).toEqual({ kind: 'eof' });
    expect(r.timings.connectMs).toBeDefined();
  });
  it('times out in the response phase when the server accepts and never answers', async () => {
    const s = await server(fx.tcpServer('silent'));
    const r = await probe({ protocol: 'tcp', host: LO, port: s.port, timeoutMs: { total: 300 } });
    expect(r.outcome).toEqual({ kind: 'timeout', phase: 'response' });
  });
  it('is not ok when something other than the agent answers', async () => {
    const s = await server(fx.tcpServer('banner'));
    const r = await probe({ protocol: 'tcp', host: LO, port: s.port });
    expect(r.outcome).toMatchObject({ kind: 'error', reply: 'SSH-2.0-OpenSSH_9.2\r' });
  });
});

describe('http and https', () => {
  it('is ok with status and the request as the agent saw it', async () => {
    const r = await probe({ protocol: 'http', host: LO, port: ports.http, http: { method: 'POST', path: '/x?y=1' } });
    expect(r.outcome).toMatchObject({ kind: 'ok', status: 200, observation: { http: { method: 'POST', path: '/x?y=1' } } });
    expect(r.outcome.kind === 'ok' && r.outcome.observation?.peer).toBeUndefined();
  });
  it('reports a 403 from something that is not the agent as http, with server header and body', async () => {
    const s = await server(fx.denyingHttpServer());
    const r = await probe({ protocol: 'http', host: LO, port: s.port });
    expect(r.outcome).toEqual({ kind: 'http', status: 403, server: 'istio-envoy', body: 'RBAC: access denied' });
  });
  it('tells eof from reset before any HTTP response', async () => {
    const closing = await server(fx.tcpServer('close'));
    const resetting = await server(fx.tcpServer('reset'));
    expect((await probe({ protocol: 'http', host: LO, port: closing.port })).outcome).toEqual({ kind: 'eof' });
    expect((await probe({ protocol: 'http', host: LO, port: resetting.port })).outcome.kind).toBe('reset');
  });
  it('reports a forged X-Forwarded-Client-Cert as a header the client sent, never as mTLS', async () => {
    const forged = 'By=spiffe://cluster.local/ns/a/sa/server;Hash=abc;Subject="";URI=spiffe://cluster.local/ns/a/sa/admin';
    const r = await probe({ protocol: 'http', host: LO, port: ports.http, http: { headers: { 'X-Forwarded-Client-Cert': forged } } });
    expect(r.outcome.kind).toBe('ok');
    const obs = r.outcome.kind === 'ok' ? r.outcome.observation : undefined;
    expect(obs?.http?.xfcc).toMatchObject({ raw: forged, uri: 'spiffe://cluster.local/ns/a/sa/admin' });
    expect(obs?.peer).toEqual({ identity: 'spiffe://cluster.local/ns/a/sa/admin', basis: 'header-unverified' });
    expect(obs?.tls).toBeUndefined();
  });
  it('takes XFCC as the sidecar-verified identity only when started behind a sidecar', async () => {
    const xfcc = 'By=spiffe://cluster.local/ns/a/sa/server;URI=spiffe://cluster.local/ns/a/sa/client';
    const r = await probe({ protocol: 'http', host: LO, port: ports.sidecarHttp, http: { headers: { 'x-forwarded-client-cert': xfcc } } });
    expect(r.outcome.kind === 'ok' && r.outcome.observation?.peer).toEqual({
      identity: 'spiffe://cluster.local/ns/a/sa/client',
      basis: 'xfcc-from-sidecar',
    });
  });
  it('is tls when the server certificate is not trusted, ok when its CA is', async () => {
    const untrusted = await probe({ protocol: 'https', host: LO, port: ports.https });
    expect(untrusted.outcome.kind).toBe('tls');
    expect(untrusted.outcome.kind === 'tls' && untrusted.outcome.reason).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
    expect(untrusted.timings.connectMs).toBeDefined();
    const trusted = await probe({ protocol: 'https', host: LO, port: ports.https, tls: { caFile: certs.ca } });
    expect(trusted.outcome).toMatchObject({ kind: 'ok', status: 200, observation: { protocol: 'https', tls: { alpn: 'http/1.1' } } });
  });
  it('is tls when the port speaks plaintext', async () => {
    const r = await probe({ protocol: 'https', host: LO, port: ports.http, tls: { insecure: true } });
    expect(r.outcome.kind).toBe('tls');
  });
  it('takes the identity from the client certificate URI SAN, with SNI recorded', async () => {
    const r = await probe({
      protocol: 'https',
      host: LO,
      port: ports.https,
      tls: { caFile: certs.ca, servername: 'localhost', certFile: certs.clientCert, keyFile: certs.clientKey },
    });
    expect(r.outcome.kind).toBe('ok');
    const obs = r.outcome.kind === 'ok' ? r.outcome.observation : undefined;
    expect(obs?.tls).toMatchObject({ sni: 'localhost', peerUriSan: certs.clientUri });
    expect(obs?.peer).toEqual({ identity: certs.clientUri, basis: 'tls-client-certificate' });
  });
});

describe('udp', () => {
  it('is ok only with the agent reply carrying the nonce', async () => {
    const r = await probe({ protocol: 'udp', host: LO, port: ports.udp });
    expect(r.outcome).toMatchObject({ kind: 'ok', observation: { nonce: r.nonce, protocol: 'udp' } });
  });
  it('times out when the datagram arrives but nothing answers', async () => {
    const s = await server(fx.udpServer('silent'));
    const r = await probe({ protocol: 'udp', host: LO, port: s.port, timeoutMs: { connect: 300 } });
    expect(r.outcome).toEqual({ kind: 'timeout', phase: 'response' });
    expect(s.received()).toBe(1);
  });
  it('is not ok when the reply lacks the nonce', async () => {
    const s = await server(fx.udpServer('foreign'));
    const r = await probe({ protocol: 'udp', host: LO, port: s.port });
    expect(r.outcome).toMatchObject({ kind: 'error', reply: 'pong' });
  });
  it('is refused when the port is closed (ICMP port unreachable)', async () => {
    const r = await probe({ protocol: 'udp', host: LO, port: await fx.freePort(), timeoutMs: { connect: 1000 } });
    expect(r.outcome).toEqual({ kind: 'refused' });
  });
});

describe('icmp and errors', () => {
  it('gets an echo reply with a round-trip time', async () => {
    const r = await probe({ protocol: 'icmp', host: LO });
    expect(r.outcome).toMatchObject({ kind: 'icmp', reply: true });
    expect(r.outcome.kind === 'icmp' && r.outcome.rttMs).toBeGreaterThanOrEqual(0);
  });
  it('reports an unresolvable name as error with its errno', async () => {
    const r = await probe({ protocol: 'tcp', host: 'no-such-host.invalid', port: 80 });
    expect(r.outcome).toMatchObject({ kind: 'error', errno: 'ENOTFOUND' });
  });
});

describe('runProbes', () => {
  it('runs every probe with at most `concurrency` in flight', async () => {
    let open = 0;
    let peak = 0;
    // Counted from accept until the reply leaves: a client cannot start its next probe before that reply.
    const slow = createServer((s: Socket) => {
      peak = Math.max(peak, ++open);
      s.on('error', () => undefined);
      s.once('data', () => setTimeout(() => (open--, s.end('not-json\n')), 30));
    });
    await new Promise<void>((r) => slow.listen(0, LO, r));
    cleanups.push(() => new Promise((r) => slow.close(() => r())));
    const port = (slow.address() as { port: number }).port;
    const requests: ProbeRequest[] = Array.from({ length: 12 }, () => ({ nonce: nonce(), protocol: 'tcp', host: LO, port }));
    const seen: string[] = [];
    for await (const res of runProbes(requests, { concurrency: 3 })) seen.push(res.nonce);
    expect(seen.sort()).toEqual(requests.map((q) => q.nonce).sort());
    expect(peak).toBe(3);
  });
});
