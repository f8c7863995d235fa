#!/usr/bin/env node
// Probe agent benchmark: one `serve` agent and, per protocol, one `call` process running a batch of 2,000 probes
// on loopback — the way the lab runs a batch (one process per batch, so its start-up is part of the figure).
// Prints `tcp_probes_per_s`, `http_probes_per_s`, `udp_probes_per_s` and `agent_cold_start_ms` (median wall time of
// `call` with one probe). Uses the bundled agent; `npm run bench:probe` builds it first.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const BATCH = 2000;
const COLD_RUNS = 7;
const LIMIT_MS = 180_000;
const bundle = new URL('../dist/agent/meshprobe-agent.mjs', import.meta.url).pathname;
if (!existsSync(bundle)) {
  process.stderr.write('bench-probe: dist/agent/meshprobe-agent.mjs is missing; run `node scripts/bundle-agent.mjs`\n');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'mp-bench-'));
let serve;
const cleanup = () => {
  if (serve && serve.exitCode === null) serve.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
};
const guard = setTimeout(() => {
  process.stderr.write(`bench-probe: gave up after ${LIMIT_MS / 1000} s\n`);
  cleanup();
  process.exit(1);
}, LIMIT_MS);

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Runs `call` once; resolves with wall time and the outcome kinds it printed. */
function call(requests) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [bundle, 'call'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const kinds = {};
    createInterface({ input: child.stdout }).on('line', (l) => {
      const k = JSON.parse(l).outcome.kind;
      kinds[k] = (kinds[k] ?? 0) + 1;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`call exited with ${code}`));
      else resolve({ ms: performance.now() - t0, kinds });
    });
    child.stdin.end(requests.map((r) => JSON.stringify(r)).join('\n'));
  });
}

try {
  const ports = { tcp: await freePort(), http: await freePort(), udp: await freePort() };
  const config = join(dir, 'serve.json');
  writeFileSync(
    config,
    JSON.stringify({
      control: join(dir, 'ctl.sock'),
      ports: Object.entries(ports).map(([protocol, port]) => ({ port, protocol })),
    }),
  );
  serve = spawn(process.execPath, [bundle, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve) => createInterface({ input: serve.stdout }).once('line', resolve));
  if (first !== 'ready') throw new Error(`serve said "${first}" instead of ready`);

  for (const protocol of ['tcp', 'http', 'udp']) {
    const requests = Array.from({ length: BATCH }, (_, i) => ({
      nonce: `bench-${protocol}-${i}`,
      protocol,
      host: '127.0.0.1',
      port: ports[protocol],
    }));
    const { ms, kinds } = await call(requests);
    if (kinds.ok !== BATCH) throw new Error(`${protocol}: not every probe was ok: ${JSON.stringify(kinds)}`);
    console.log(`${protocol}_probes_per_s: ${Math.round(BATCH / (ms / 1000))} probes/s`);
  }

  const cold = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    cold.push((await call([{ nonce: `cold-${i}`, protocol: 'tcp', host: '127.0.0.1', port: ports.tcp }])).ms);
  }
  cold.sort((a, b) => a - b);
  console.log(`agent_cold_start_ms: ${Math.round(cold[Math.floor(COLD_RUNS / 2)])} ms`);
} catch (err) {
  process.stderr.write(`bench-probe: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(guard);
  cleanup();
}
