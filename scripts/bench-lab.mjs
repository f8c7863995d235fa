#!/usr/bin/env node
// Benchmark: bring up and tear down a 4-pod lab with sidecars (namespaces, routes, capture rules, NetworkPolicy,
// sidecars and agents ready). Prints `lab_up_ms: N ms` and `lab_down_ms: N ms` (median of --runs, default 3).
// Needs root. Bundles the lab from src/ first so it measures the current sources.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const outfile = `${root}dist/lab/bench/bench-lab-run.mjs`;
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 3;

const entry = `
import { LabTarget } from '${root}src/targets/lab/index.ts';
import { scenario } from '${root}src/scenario/schema.ts';
const ns = ['app', 'data'];
const s = scenario.parse({
  apiVersion: 'meshprobe.io/v1', kind: 'Scenario', metadata: { name: 'bench' },
  spec: {
    namespaces: ns.map((name) => ({ name })),
    workloads: [0, 1, 2, 3].map((i) => ({ name: 'w' + i, namespace: ns[i % 2], ports: [{ port: 8080, protocol: 'http' }, { port: 9090, protocol: 'tcp' }] })),
    resources: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'app' },
      spec: { podSelector: {}, ingress: [{ ports: [{ port: 8080 }] }] } }],
    probes: [{ name: 'p', from: 'app/w0', to: 'data/w1', port: 8080, protocol: 'http', expect: { reach: true } }],
  },
});
const target = new LabTarget();
await target.prepare();
const up = [], down = [];
for (let i = 0; i < ${runs}; i++) {
  let t = performance.now();
  const d = await target.deploy(s);
  up.push(performance.now() - t);
  t = performance.now();
  await target.undeploy(d);
  down.push(performance.now() - t);
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('lab_up_ms: ' + Math.round(median(up)) + ' ms');
console.log('lab_down_ms: ' + Math.round(median(down)) + ' ms');
`;

if (!existsSync(`${root}dist/agent/meshprobe-agent.mjs`)) execFileSync('node', [`${root}scripts/bundle-agent.mjs`], { stdio: 'inherit' });
await build({ stdin: { contents: entry, resolveDir: root, loader: 'ts', sourcefile: 'bench-lab-entry.ts' }, outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error' });
execFileSync(process.execPath, [outfile], { stdio: 'inherit' });
