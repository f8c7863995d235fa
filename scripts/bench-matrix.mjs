#!/usr/bin/env node
// Benchmark of `meshprobe matrix` on a target (default: the lab, needs root) under the policies in
// scripts/bench-matrix.policies.yaml, predicted, deployed, probed once each, and compared.
//
// Default: the 9-workload matrix of scripts/bench-matrix.workloads.yaml (2 ports × 3 protocols per workload,
// 486 probes). `--per-namespace N[,N…]` (or `all`: 3,9,15,30) generates N workloads in each of shop, pay and legacy
// instead, each listening on the same six ports (tcp 80/81, http 8080/8081, udp 5353/5354) and cycling through the
// roles of the 9-workload file (shop: plain, excludeOutboundPorts 8081, uid 1337; pay: app=ledger, NET_ADMIN,
// role=audit; legacy: plain, plain, app=old3), so every size meets the same policies. N = 3 is the default
// matrix again (same roles, other names).
//
// Each size runs in a process of its own (peak RSS is per process) `--runs R` times (default 1); the median run's
// figures are printed, one per line, named after the size when sizes are given (`w45_wall_s: 31.2 s`):
//   probes, wall_s (load → teardown), probes_per_s, divergences (observation ≠ prediction: FAIL + FLAKY), errors,
//   peak_rss_mb (the lab process: agents and sidecars run in it), probe_phase_s (probing only).
// Usage: npm run bench:matrix [-- --per-namespace 3,9,15,30 --runs 3 --target lab --policies FILE]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'lab' },
    workloads: { type: 'string' },
    policies: { type: 'string', default: here('./bench-matrix.policies.yaml') },
    'per-namespace': { type: 'string' },
    runs: { type: 'string', default: '1' },
    // Internal: run one size in this process and print its raw figures.
    once: { type: 'boolean', default: false },
    prefix: { type: 'string', default: '' },
  },
});

const ROLES = {
  shop: [{}, { annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '8081' } }, { runAsUser: 1337 }],
  pay: [{ labels: { app: 'ledger' } }, { capabilities: ['NET_ADMIN'] }, { labels: { role: 'audit' } }],
  legacy: [{}, {}, { labels: { app: 'old3' } }],
};
const PORTS = [
  { port: 80, protocol: 'tcp' },
  { port: 81, protocol: 'tcp' },
  { port: 8080, protocol: 'http' },
  { port: 8081, protocol: 'http' },
  { port: 5353, protocol: 'udp' },
  { port: 5354, protocol: 'udp' },
];

/** The workloads file for N per namespace (JSON is YAML). */
export function generatedWorkloads(n) {
  const workloads = [];
  for (const [namespace, roles] of Object.entries(ROLES)) {
    for (let i = 1; i <= n; i++) workloads.push({ name: `w${i}`, namespace, ...roles[(i - 1) % roles.length], ports: PORTS });
  }
  return { namespaces: [{ name: 'shop' }, { name: 'pay' }, { name: 'legacy', sidecarInjection: false }], workloads };
}

function sizes(spec) {
  const list = (spec === 'all' ? '3,9,15,30' : spec).split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1 || n > 100)) {
    process.stderr.write(`bench:matrix: --per-namespace takes whole numbers 1-100 separated by commas, or "all"\n`);
    process.exit(2);
  }
  return list;
}

async function once() {
  const { loadInputs } = await import('../dist/cli/common.js');
  const { buildWorld } = await import('../dist/predict/world.js');
  const { matrixFlows, predictMatrix, countStatus } = await import('../dist/predict/matrix.js');
  const { probeMatrix } = await import('../dist/predict/probe.js');
  const { divergenceReport } = await import('../dist/predict/render.js');

  const started = process.hrtime.bigint();
  const loaded = await loadInputs(values.workloads ?? here('./bench-matrix.workloads.yaml'), values.policies);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`${e}\n`);
    process.exit(2);
  }
  const { input, resources } = loaded.value;
  const { world, errors } = buildWorld(input);
  if (errors.length) {
    for (const e of errors) process.stderr.write(`${e}\n`);
    process.exit(2);
  }
  const predicted = predictMatrix(world, matrixFlows(world));
  const probed = await probeMatrix(input, resources, predicted, { target: values.target });
  if (!probed.ok) {
    process.stderr.write(`bench:matrix: ${probed.error}\n`);
    process.exit(2);
  }
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const n = countStatus(probed.matrix);
  if (n.diverge + n.flaky + n.error > 0) process.stderr.write(`${divergenceReport(probed.matrix).slice(0, 20_000)}\n`);
  for (const note of probed.matrix.notes) process.stderr.write(`note: ${note.slice(0, 2_000)}\n`);
  const probes = probed.matrix.cells.length;
  // maxRSS covers the whole process: its runtime threads, where every pod's agent and sidecar run.
  const rssMb = process.resourceUsage().maxRSS / 1024;
  const p = values.prefix;
  console.log(`${p}probes: ${probes}`);
  console.log(`${p}wall_s: ${wall.toFixed(1)} s`);
  console.log(`${p}probes_per_s: ${(probes / wall).toFixed(0)} probes/s`);
  console.log(`${p}divergences: ${n.diverge + n.flaky}`);
  console.log(`${p}errors: ${n.error}`);
  console.log(`${p}peak_rss_mb: ${rssMb.toFixed(0)} MB`);
  console.log(`${p}probe_phase_s: ${(probed.run.probePhase.wallMs / 1000).toFixed(1)} s`);
}

/** Runs one size in a child process; resolves to its figure lines (name → line). */
function child(args) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--once', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) => {
      const figures = new Map();
      for (const line of out.split('\n')) {
        const m = /^(\S+): (\S+)(.*)$/.exec(line);
        if (m) figures.set(m[1], { value: Number(m[2]), line });
      }
      resolve({ code, figures });
    });
  });
}

async function bySize() {
  const runs = Math.max(1, Number(values.runs) || 1);
  const dir = mkdtempSync(join(tmpdir(), 'bench-matrix-'));
  let worst = 0;
  try {
    for (const n of sizes(values['per-namespace'])) {
      const file = join(dir, `workloads-${n}.yaml`);
      writeFileSync(file, JSON.stringify(generatedWorkloads(n), null, 1));
      const prefix = `w${3 * n}_`;
      const results = [];
      for (let r = 0; r < runs; r++) {
        const res = await child(['--workloads', file, '--policies', values.policies, '--target', values.target, '--prefix', prefix]);
        worst = Math.max(worst, res.code ?? 2);
        if (res.figures.size === 0) process.stderr.write(`bench:matrix: ${3 * n} workloads: the run printed no figures (exit ${res.code})\n`);
        else results.push(res.figures);
      }
      if (results.length === 0) continue;
      // The median run by wall time; its own figures (not a mix of runs).
      results.sort((a, b) => a.get(`${prefix}wall_s`).value - b.get(`${prefix}wall_s`).value);
      const median = results[Math.floor((results.length - 1) / 2)];
      console.log(`${prefix}workloads: ${3 * n}`);
      for (const { line } of median.values()) console.log(line);
      if (runs > 1) console.log(`${prefix}wall_s_runs: ${results.map((f) => f.get(`${prefix}wall_s`).value).join(',')} s`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exitCode = worst;
}

/** The default matrix `--runs R` times, each in a process of its own; the median run's figures. */
async function byDefault() {
  const runs = Math.max(1, Number(values.runs) || 1);
  const results = [];
  let worst = 0;
  for (let r = 0; r < runs; r++) {
    const res = await child([
      '--policies',
      values.policies,
      '--target',
      values.target,
      ...(values.workloads ? ['--workloads', values.workloads] : []),
    ]);
    worst = Math.max(worst, res.code ?? 2);
    if (res.figures.size) results.push(res.figures);
  }
  results.sort((a, b) => a.get('wall_s').value - b.get('wall_s').value);
  const median = results[Math.floor((results.length - 1) / 2)];
  for (const { line } of median?.values() ?? []) console.log(line);
  console.log(`wall_s_runs: ${results.map((f) => f.get('wall_s').value).join(',')} s`);
  process.exitCode = worst;
}

if (values.once || (values['per-namespace'] === undefined && values.runs === '1')) await once();
else if (values['per-namespace'] === undefined) await byDefault();
else await bySize();
