#!/usr/bin/env node
// Benchmark of repeatability: the built-in suite on the lab (needs root), `--runs N` times back to back (default
// 20), each as a user runs it (`node bin/meshprobe.js run scenarios`, its own process, reports in a temporary
// directory). Prints, one per line:
//   runs, flaky (FLAKY probes over all runs), errors (ERROR probes over all runs, plus runs that ended without a
//   report), failed (FAIL probes over all runs), median_wall_s and max_wall_s (each run's process, start to exit),
//   load_avg_1m (at the end: the machine's load while this ran).
// Exits 1 when any probe of any run was not PASS or SKIPPED.
// Usage: npm run bench:repeat [-- --runs 20]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 1000) {
  process.stderr.write('bench:repeat: --runs takes a whole number 1-1000\n');
  process.exit(2);
}
const cli = fileURLToPath(new URL('../bin/meshprobe.js', import.meta.url));
const suite = fileURLToPath(new URL('../scenarios', import.meta.url));

let flaky = 0;
let errors = 0;
let failed = 0;
const walls = [];
for (let i = 1; i <= runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'meshprobe-bench-repeat-'));
  const json = join(dir, 'report.json');
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [cli, 'run', suite, '--report-dir', dir, '--json', json], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  walls.push(Number(process.hrtime.bigint() - started) / 1e9);
  try {
    const p = JSON.parse(readFileSync(json, 'utf8')).summary.probes;
    flaky += p.FLAKY ?? 0;
    errors += p.ERROR ?? 0;
    failed += p.FAIL ?? 0;
    if ((p.FLAKY ?? 0) + (p.ERROR ?? 0) + (p.FAIL ?? 0) > 0) process.stderr.write(`run ${i}: exit ${r.status}\n${r.stdout.slice(-4000)}\n`);
  } catch (err) {
    errors += 1;
    process.stderr.write(`run ${i}: no report (exit ${r.status}): ${err.message}\n${r.stderr.slice(-2000)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
walls.sort((a, b) => a - b);
const median = walls.length % 2 ? walls[(walls.length - 1) / 2] : (walls[walls.length / 2 - 1] + walls[walls.length / 2]) / 2;
console.log(`runs: ${runs}`);
console.log(`flaky: ${flaky}`);
console.log(`errors: ${errors}`);
console.log(`failed: ${failed}`);
console.log(`median_wall_s: ${median.toFixed(1)} s`);
console.log(`max_wall_s: ${walls.at(-1).toFixed(1)} s`);
console.log(`load_avg_1m: ${loadavg()[0].toFixed(1)}`);
process.exit(flaky + errors + failed > 0 ? 1 : 0);
