#!/usr/bin/env node
// Benchmark of `meshprobe matrix` on a target (default: the lab, needs root): the 9-workload matrix of
// scripts/bench-matrix.workloads.yaml (2 ports × 3 protocols per workload, 486 probes) under the policies in
// scripts/bench-matrix.policies.yaml, predicted, deployed, probed once each, and compared. Prints one figure per line:
//   probes, wall_s (load → teardown), divergences (observation ≠ prediction: FAIL + FLAKY), errors,
//   probe_phase_s (probing only; the rest is deploy and teardown).
// Usage: npm run bench:matrix [-- --target lab --workloads FILE --policies DIR]
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'lab' },
    workloads: { type: 'string', default: here('./bench-matrix.workloads.yaml') },
    policies: { type: 'string', default: here('./bench-matrix.policies.yaml') },
  },
});

const { loadInputs } = await import('../dist/cli/matrix.js');
const { buildWorld } = await import('../dist/predict/world.js');
const { matrixFlows, predictMatrix, countStatus } = await import('../dist/predict/matrix.js');
const { probeMatrix } = await import('../dist/predict/probe.js');
const { divergenceReport } = await import('../dist/predict/render.js');

const started = process.hrtime.bigint();
const loaded = await loadInputs(values.workloads, values.policies);
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
if (n.diverge + n.flaky + n.error > 0) process.stderr.write(`${divergenceReport(probed.matrix)}\n`);
for (const note of probed.matrix.notes) process.stderr.write(`note: ${note}\n`);
console.log(`probes: ${probed.matrix.cells.length}`);
console.log(`wall_s: ${wall.toFixed(1)} s`);
console.log(`divergences: ${n.diverge + n.flaky}`);
console.log(`errors: ${n.error}`);
console.log(`probe_phase_s: ${(probed.run.probePhase.wallMs / 1000).toFixed(1)} s`);
