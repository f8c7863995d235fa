#!/usr/bin/env node
// Benchmark: bring up and tear down a 4-pod lab with sidecars (namespaces, routes, capture rules, NetworkPolicy,
// sidecars and agents ready). Prints `lab_up_ms: N ms` and `lab_down_ms: N ms` (median of --runs, default 3).
// Then HTTP probes over mutual TLS through two sidecars (client sidecar → server sidecar, STRICT + an ALLOW policy
// evaluated on every request): `mtls_http_probes_per_s: N probes/s` (best of 3 rounds of --probes, default 600,
// each checked to have arrived with the client's SPIFFE identity), `cpu_ms_per_probe: N ms` (the lab process's CPU
// time per probe: both agents, both sidecars, the lab), then `sidecar_rss_mb: N MB` and `sidecar_private_mb: N MB`:
// what one more pod (its sidecar and its agent) adds to the lab process's resident and anonymous memory, measured
// over a 20-pod lab under load.
// Needs root. Bundles the lab from src/ first so it measures the current sources.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const outfile = `${root}dist/lab/bench/bench-lab-run.mjs`;
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 3;
const probesFlag = process.argv.indexOf('--probes');
const probes = probesFlag > 0 ? Number(process.argv[probesFlag + 1]) : 600;

const entry = `
import { LabTarget } from '${root}src/targets/lab/index.ts';
import { scenario } from '${root}src/scenario/schema.ts';
import { readFileSync } from 'node:fs';
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

const m = scenario.parse({
  apiVersion: 'meshprobe.io/v1', kind: 'Scenario', metadata: { name: 'bench-mtls' },
  spec: {
    namespaces: [{ name: 'app' }],
    workloads: [{ name: 'client', namespace: 'app' }, { name: 'server', namespace: 'app', ports: [{ port: 8080, protocol: 'http' }] }],
    resources: [
      { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'app' }, spec: { mtls: { mode: 'STRICT' } } },
      { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'server', namespace: 'app' },
        spec: { selector: { matchLabels: { app: 'server' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/app/sa/client'] } }], to: [{ operation: { methods: ['GET'] } }] }] } },
    ],
    probes: [{ name: 'p', from: 'app/client', to: 'app/server', port: 8080, protocol: 'http', expect: { reach: true, mtls: true } }],
  },
});
const dm = await target.deploy(m);
try {
  // Agents and sidecars run in the lab runtime's threads: the CPU a probe costs there (both sidecars, both agents).
  const cpu = () => { const r = process.resourceUsage(); return (r.userCPUTime + r.systemCPUTime) / 1000; };
  const c0 = cpu();
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const batch = Array.from({ length: ${probes} }, (_, i) => ({ probe: m.spec.probes[0], nonce: 'b' + round + 'x' + i, attempt: 1 }));
    const t = performance.now();
    const results = await target.probe(dm, batch);
    const secs = (performance.now() - t) / 1000;
    const good = results.filter((r) => r.arrived[0]?.peer?.identity === 'spiffe://cluster.local/ns/app/sa/client').length;
    if (good !== batch.length) throw new Error('only ' + good + ' of ' + batch.length + ' probes arrived over mTLS');
    best = Math.max(best, batch.length / secs);
  }
  console.log('mtls_http_probes_per_s: ' + Math.round(best) + ' probes/s');
  console.log('cpu_ms_per_probe: ' + ((cpu() - c0) / (3 * ${probes})).toFixed(2) + ' ms');
} finally {
  await target.undeploy(dm);
}

// What one more pod costs in memory: the growth of this process's resident and private (anonymous) memory from a
// lab of 20 pods with sidecars (10 clients, 10 servers, STRICT), each pair probed 30 times, divided by 20. The
// runtime threads are already up (the labs above started them), so their own start is not counted.
// (no regular expressions: this code sits in a template literal, where backslashes would be eaten)
const PODS = 20;
const many = scenario.parse({
  apiVersion: 'meshprobe.io/v1', kind: 'Scenario', metadata: { name: 'bench-memory' },
  spec: {
    namespaces: [{ name: 'app' }],
    workloads: Array.from({ length: PODS }, (_, i) => (i % 2 ? { name: 's' + i, namespace: 'app', ports: [{ port: 8080, protocol: 'http' }] } : { name: 'c' + i, namespace: 'app' })),
    resources: [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'app' }, spec: { mtls: { mode: 'STRICT' } } }],
    probes: Array.from({ length: PODS / 2 }, (_, k) => ({ name: 'p' + k, from: 'app/c' + 2 * k, to: 'app/s' + (2 * k + 1), port: 8080, protocol: 'http', expect: { reach: true, mtls: true } })),
  },
});
const kb = (file, field) => Number(file.split(field)[1].trim().split(' ')[0]);
const mem = () => [kb(readFileSync('/proc/self/status', 'utf8'), 'VmRSS:') / 1024, kb(readFileSync('/proc/self/smaps_rollup', 'utf8'), 'Anonymous:') / 1024];
const [rss0, anon0] = mem();
const dl = await target.deploy(many);
try {
  await Promise.all(many.spec.probes.map((p) => target.probe(dl, Array.from({ length: 30 }, (_, i) => ({ probe: p, nonce: p.name + 'm' + i, attempt: 1 })))));
  const [rss, anon] = mem();
  console.log('sidecar_rss_mb: ' + ((rss - rss0) / PODS).toFixed(1) + ' MB');
  console.log('sidecar_private_mb: ' + ((anon - anon0) / PODS).toFixed(1) + ' MB');
} finally {
  await target.undeploy(dl);
}
`;

if (!existsSync(`${root}dist/agent/meshprobe-agent.mjs`)) execFileSync('node', [`${root}scripts/bundle-agent.mjs`], { stdio: 'inherit' });
await build({
  stdin: { contents: entry, resolveDir: root, loader: 'ts', sourcefile: 'bench-lab-entry.ts' },
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'error',
});
execFileSync(process.execPath, [outfile], { stdio: 'inherit' });
