#!/usr/bin/env node
// Benchmark of `meshprobe run` end to end on a target (default: the lab, needs root): a synthetic suite of
// SCENARIOS scenarios × 10 probes, generated into a temporary directory. Prints one figure per line:
//   scenarios, probes, wall_s (load → teardown), probes_per_s (end to end), probe_phase_probes_per_s (probing only).
// The suite is run --runs times (default 3; a shared 2-core machine varies by ±20 % from run to run) and each
// figure is the median over the runs; every probe of every run must PASS.
// Usage: npm run bench:run [-- --scenarios 20 --parallel 4 --runs 3 --target lab]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    scenarios: { type: 'string', default: '20' },
    parallel: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    target: { type: 'string', default: 'lab' },
  },
});

const HTTP_PORTS = [8080, 8081, 8082];
const TCP_PORTS = [9090, 9091];

/** One scenario: a server with 3 http + 2 tcp ports, two clients; each client probes every port (10 probes). */
function scenarioYaml(i) {
  const name = `bench-${String(i).padStart(2, '0')}`;
  const ports = [...HTTP_PORTS.map((p) => ({ port: p, protocol: 'http' })), ...TCP_PORTS.map((p) => ({ port: p, protocol: 'tcp' }))];
  const probes = ['client-a', 'client-b'].flatMap((from) =>
    ports.map(
      ({ port, protocol }) =>
        `    - {name: ${from}-${port}, from: app/${from}, to: app/server, port: ${port}, protocol: ${protocol}, expect: {reach: true}}`,
    ),
  );
  return `apiVersion: meshprobe.io/v1
kind: Scenario
metadata:
  name: ${name}
  title: synthetic benchmark scenario ${i}
  tags: [bench]
spec:
  namespaces:
    - name: app
  workloads:
    - name: server
      namespace: app
      ports:
${ports.map((p) => `        - {port: ${p.port}, protocol: ${p.protocol}}`).join('\n')}
    - {name: client-a, namespace: app}
    - {name: client-b, namespace: app}
  probes:
${probes.join('\n')}
`;
}

const dist = new URL('../dist/index.js', import.meta.url);
const { run } = await import(dist.href).catch((err) => {
  process.stderr.write(`bench-run: the project is not built (${err.message}); run \`npm run build\` first\n`);
  process.exit(2);
});

const dir = await mkdtemp(join(tmpdir(), 'mp-bench-run-'));
try {
  const n = Number(values.scenarios);
  for (let i = 0; i < n; i += 1) await writeFile(join(dir, `bench-${i}.yaml`), scenarioYaml(i));
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const runs = [];
  let notPassed = 0;
  for (let r = 0; r < Math.max(1, Number(values.runs)); r += 1) {
    const t0 = process.hrtime.bigint();
    const result = await run({ paths: [dir], target: values.target, parallel: Number(values.parallel), signal: controller.signal });
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    if (result.inputErrors.length) {
      process.stderr.write(`bench-run: invalid input:\n${result.inputErrors.join('\n')}\n`);
      process.exit(2);
    }
    if (result.incomplete) process.exit(130);
    const probes = result.summary.probes.total;
    const notPass = result.scenarios.flatMap((s) =>
      s.probes.filter((p) => p.verdict !== 'PASS').map((p) => `${s.name}/${p.name}: ${p.verdict}: ${p.reason}`),
    );
    if (notPass.length) process.stderr.write(`bench-run: run ${r + 1}: ${notPass.length} probes did not PASS (first: ${notPass[0]})\n`);
    notPassed += notPass.length;
    const phaseS = result.probePhase.wallMs / 1000;
    runs.push({
      scenarios: result.scenarios.length,
      probes,
      wallS,
      perS: probes / wallS,
      phasePerS: phaseS > 0 ? result.probePhase.probes / phaseS : 0,
    });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(
    [
      `scenarios: ${runs[0].scenarios}`,
      `probes: ${runs[0].probes}`,
      `wall_s: ${median(runs.map((r) => r.wallS)).toFixed(2)} s`,
      `probes_per_s: ${median(runs.map((r) => r.perS)).toFixed(1)} probes/s`,
      `probe_phase_probes_per_s: ${median(runs.map((r) => r.phasePerS)).toFixed(1)} probes/s`,
    ].join('\n') + '\n',
  );
  process.exitCode = notPassed ? 1 : 0;
} finally {
  await rm(dir, { recursive: true, force: true });
}
