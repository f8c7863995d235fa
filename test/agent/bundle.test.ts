/**
 * The single-file agent bundle the probe image ships, run as a real process: serve prints `ready`, call streams
 * one result line per probe, query reads what serve recorded, SIGTERM ends serve cleanly, bad input exits 2.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ProbeResult } from '../../src/agent/types.js';
import * as fx from './fixtures.js';

let tmp: ReturnType<typeof fx.tempDir>;
let bundle: string;
let serve: ChildProcess | undefined;
let config: string;
const ports = { tcp: 0, http: 0, udp: 0 };

function agent(args: string[], input?: string) {
  return spawnSync(process.execPath, [bundle, ...args], { input, encoding: 'utf8', timeout: 20_000 });
}

beforeAll(async () => {
  tmp = fx.tempDir();
  bundle = join(tmp.dir, 'meshprobe-agent.mjs');
  fx.bundleAgent(bundle);
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await fx.freePort();
  config = join(tmp.dir, 'serve.json');
  writeFileSync(
    config,
    JSON.stringify({
      name: 'bundled',
      control: join(tmp.dir, 'ctl.sock'),
      ports: [
        { port: ports.tcp, protocol: 'tcp' },
        { port: ports.http, protocol: 'http' },
        { port: ports.udp, protocol: 'udp' },
      ],
    }),
  );
  serve = spawn(process.execPath, [bundle, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const first = await new Promise<string>((resolve) => createInterface({ input: serve!.stdout! }).once('line', resolve));
  expect(first).toBe('ready');
}, 30_000);

afterAll(async () => {
  if (serve && serve.exitCode === null) serve.kill('SIGKILL');
  tmp?.remove();
});

describe('the bundled agent', () => {
  it('imports nothing but node built-ins', () => {
    const text = readFileSync(bundle, 'utf8');
    const imports = [...text.matchAll(/(?:^|\n)import\s[^;]*?from\s*"([^"]+)"/g)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((s) => !s.startsWith('node:'))).toEqual([]);
  });
  it('prints its version', () => {
    const r = agent(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^meshprobe-agent \d+\.\d+\.\d+/);
  });
  it('runs a batch given as JSON lines, one result line per probe, and query returns what serve recorded', () => {
    const requests = [
      { nonce: 'b-tcp', protocol: 'tcp', host: '127.0.0.1', port: ports.tcp },
      { nonce: 'b-http', protocol: 'http', host: '127.0.0.1', port: ports.http },
      { nonce: 'b-udp', protocol: 'udp', host: '127.0.0.1', port: ports.udp },
    ];
    const r = agent(['call', '--concurrency', '2'], requests.map((q) => JSON.stringify(q)).join('\n'));
    expect(r.status).toBe(0);
    const results = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ProbeResult);
    expect(results.map((x) => [x.nonce, x.outcome.kind]).sort()).toEqual([
      ['b-http', 'ok'],
      ['b-tcp', 'ok'],
      ['b-udp', 'ok'],
    ]);

    const q = agent(['query', '--control', join(tmp.dir, 'ctl.sock'), '--nonce', 'b-tcp', '--nonce', 'b-udp', '--nonce', 'b-none']);
    expect(q.status).toBe(0);
    const seen = JSON.parse(q.stdout) as Record<string, { protocol: string; workload: string }[]>;
    expect(seen['b-tcp']).toMatchObject([{ protocol: 'tcp', workload: 'bundled' }]);
    expect(seen['b-udp']).toMatchObject([{ protocol: 'udp' }]);
    expect(seen['b-none']).toEqual([]);
  });
  it('streams each result as it finishes, not when the batch ends', async () => {
    const silent = await fx.udpServer('silent');
    try {
      const child = spawn(process.execPath, [bundle, 'call'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const started = Date.now();
      const lines = createInterface({ input: child.stdout! });
      const arrivals: [string, number][] = [];
      lines.on('line', (l) => arrivals.push([(JSON.parse(l) as ProbeResult).nonce, Date.now() - started]));
      const exited = new Promise<number | null>((r) => child.once('close', r));
      child.stdin!.end(
        JSON.stringify([
          { nonce: 'slow', protocol: 'udp', host: '127.0.0.1', port: silent.port, timeoutMs: { connect: 3000 } },
          { nonce: 'fast', protocol: 'tcp', host: '127.0.0.1', port: ports.tcp },
        ]),
      );
      expect(await exited).toBe(0);
      expect(arrivals.map(([n]) => n)).toEqual(['fast', 'slow']);
      expect(arrivals[1][1] - arrivals[0][1]).toBeGreaterThan(1500);
    } finally {
      await silent.close();
    }
  });
  it('runs chains (--chains): the quick requests of a chain one after another, streamed as each finishes', () => {
    const chains = [
      ['c-a1', 'c-a2', 'c-a3'].map((nonce) => ({ nonce, protocol: 'tcp', host: '127.0.0.1', port: ports.tcp })),
      [{ nonce: 'c-b1', protocol: 'http', host: '127.0.0.1', port: ports.http }],
    ];
    const r = agent(['call', '--chains', '--stagger', '500', '--concurrency', '4'], JSON.stringify(chains));
    expect(r.status).toBe(0);
    const results = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ProbeResult);
    expect(results.map((x) => [x.nonce, x.outcome.kind]).sort()).toEqual([
      ['c-a1', 'ok'],
      ['c-a2', 'ok'],
      ['c-a3', 'ok'],
      ['c-b1', 'ok'],
    ]);
    const order = results.map((x) => x.nonce).filter((n) => n.startsWith('c-a'));
    expect(order).toEqual(['c-a1', 'c-a2', 'c-a3']);
  });
  it('--chains refuses what is not an array of arrays, naming the chain and request', () => {
    const flat = agent(['call', '--chains'], JSON.stringify([{ nonce: 'x', protocol: 'tcp', host: 'h', port: 1 }]));
    expect(flat.status).toBe(2);
    expect(flat.stderr).toContain('expected a JSON array of arrays');
    const bad = agent(['call', '--chains'], JSON.stringify([[], [{ nonce: 'x', protocol: 'tcp', host: 'h' }]]));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('chain[1].request[0].port');
    expect(agent(['call', '--stagger', '5'], '[]').stderr).toContain('--stagger goes with --chains');
  });
  it('exits 0 when every probe ran even if none succeeded', () => {
    const r = agent(['call'], JSON.stringify([{ nonce: 'x', protocol: 'tcp', host: '127.0.0.1', port: 1 }]));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toEqual({ kind: 'refused' });
  });
  it('exits 2 with a message naming the bad field on invalid input', () => {
    const r = agent(['call'], JSON.stringify([{ nonce: 'x', protocol: 'sctp', host: 'h', port: 1 }]));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('request[0].protocol');
    expect(r.stdout).toBe('');
  });
  it('refuses to start when a port is taken, saying which', () => {
    const r = agent(['serve', '--config', config]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`cannot listen on \\w+ port (${ports.tcp}|${ports.http}|${ports.udp})`));
    const control = JSON.parse(readFileSync(config, 'utf8')).control as string;
    const clash = join(tmp.dir, 'clash.json');
    writeFileSync(clash, JSON.stringify({ ports: [], control }));
    const c = agent(['serve', '--config', clash]);
    expect(c.status).toBe(1);
    expect(c.stderr).toContain('in use by a running agent');
  });
  it('exits cleanly on SIGTERM and removes its control socket', async () => {
    const exit = new Promise<number | null>((r) => serve!.once('exit', (code) => r(code)));
    serve!.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(existsSync(join(tmp.dir, 'ctl.sock'))).toBe(false);
    const q = agent(['query', '--control', join(tmp.dir, 'ctl.sock'), '--nonce', 'b-tcp']);
    expect(q.status).toBe(1);
    expect(q.stderr).toContain('is the agent running');
  });
});
