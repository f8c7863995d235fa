import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicies, loadWorkloadsFile, worldInputOf } from '../../src/predict/inputs.js';
import { matrixFlows, matrixScenario, observe, predictMatrix } from '../../src/predict/matrix.js';
import { divergenceReport, matrixHtml, truthTable } from '../../src/predict/render.js';
import { buildWorld } from '../../src/predict/world.js';
import { expectationOf } from '../../src/predict/expectation.js';
import { checkRules } from '../../src/scenario/rules.js';
import { scenario as scenarioSchema } from '../../src/scenario/schema.js';
import type { ProbeJudgement } from '../../src/engine/types.js';

const BENCH_WORKLOADS = fileURLToPath(new URL('../../scripts/bench-matrix.workloads.yaml', import.meta.url));
const BENCH_POLICIES = fileURLToPath(new URL('../../scripts/bench-matrix.policies.yaml', import.meta.url));

async function bench() {
  const w = await loadWorkloadsFile(BENCH_WORKLOADS);
  const p = await loadPolicies(BENCH_POLICIES);
  if (!w.ok || !p.ok) throw new Error('bench inputs invalid');
  const input = worldInputOf(w.value, p.value);
  const built = buildWorld(input);
  expect(built.errors).toEqual([]);
  return { input, resources: p.value, world: built.world };
}

describe('matrix generation', () => {
  it('the bench set is 9 workloads × 9 destinations × 2 ports × 3 protocols = 486 flows, each to a listener of its protocol', async () => {
    const { world } = await bench();
    const flows = matrixFlows(world);
    expect(flows).toHaveLength(486);
    for (const f of flows) {
      const dst = world.workloads.find((w) => w.key === f.to);
      expect(dst?.ports.find((p) => p.port === f.port)?.protocol).toBe(f.protocol);
    }
    expect(matrixFlows(world, ['tcp', 'icmp'])).toHaveLength(81 * 2 + 81);
  });

  it('the generated scenario is a valid scenario: schema and every cross-field rule', async () => {
    const { input, resources, world } = await bench();
    const m = predictMatrix(world, matrixFlows(world));
    const s = matrixScenario('matrix', input, resources, m);
    expect(scenarioSchema.safeParse(s).success).toBe(true);
    expect(checkRules(s)).toEqual([]);
    expect(new Set(s.spec.probes.map((p) => p.name)).size).toBe(486);
  });

  it('expectations state mTLS only for HTTP, and not at all for a target that cannot observe it', async () => {
    const { world } = await bench();
    const m = predictMatrix(world, matrixFlows(world));
    const http = m.cells.find((c) => c.flow.from === 'shop/web' && c.flow.to === 'pay/ledger' && c.flow.protocol === 'http');
    const tcp = m.cells.find((c) => c.flow.from === 'shop/web' && c.flow.to === 'pay/gateway' && c.flow.protocol === 'tcp' && c.flow.port === 80);
    expect(http?.expected).toEqual({ reach: true, mtls: true, peer: 'spiffe://cluster.local/ns/shop/sa/web', viaSidecar: true, status: 200 });
    expect(tcp?.expected).toEqual({ reach: true, viaSidecar: true });
    expect(http && expectationOf(http.prediction, http.flow, { withoutMtls: true })).toEqual({ reach: true, viaSidecar: true, status: 200 });
  });
});

describe('observe and render', () => {
  it("a FAIL judgement is a divergence: marked ! in the truth table and listed with the prediction's explanation", async () => {
    const { world } = await bench();
    const m = predictMatrix(world, matrixFlows(world, ['tcp']));
    const blocked = m.cells.find((c) => !c.prediction.reach);
    if (!blocked) throw new Error('the bench set has blocked flows');
    const judgements = m.cells.map(
      (c): ProbeJudgement => ({
        name: c.name,
        from: c.flow.from,
        to: c.flow.to,
        protocol: c.flow.protocol,
        expected: c.expected,
        checks: [],
        attempts: [],
        durationMs: 1,
        verdict: c === blocked ? 'FAIL' : 'PASS',
        reason: c === blocked ? 'expected the request to be blocked, but it reached it' : 'observed as expected once',
        observed: { outcome: 'ok', reach: c === blocked ? true : c.prediction.reach, mtls: false },
      }),
    );
    const o = observe(m, judgements);
    expect(o.cells.filter((c) => c.status === 'diverge')).toHaveLength(1);
    expect(o.cells.filter((c) => c.status === 'agree')).toHaveLength(m.cells.length - 1);
    const table = truthTable(o);
    expect(table.match(/!/g)?.length).toBe(1 + 1); // the cell and the legend
    const report = divergenceReport(o);
    expect(report).toContain(`${blocked.flow.from} → ${blocked.flow.to}`);
    expect(report).toContain('network-policy:');
    expect(matrixHtml(o)).toContain('data-status="diverge"');
  });
});

describe('inputs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp-matrix-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a workloads file error names file:line:col and the field', async () => {
    const file = join(dir, 'w.yaml');
    await writeFile(file, 'namespaces:\n  - name: a\nworkloads:\n  - name: web\n    namespace: b\n    portz: []\n');
    const r = await loadWorkloadsFile(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(expect.arrayContaining([expect.stringMatching(/w\.yaml:6:5: workloads\[0\]\.portz: unknown field "portz"/)]));
    await writeFile(file, 'namespaces:\n  - name: a\nworkloads:\n  - name: web\n    namespace: b\n');
    const r2 = await loadWorkloadsFile(file);
    expect(r2.ok ? [] : r2.errors).toEqual([expect.stringMatching(/w\.yaml:5:16: workloads\[0\]\.namespace: namespace "b" is not declared/)]);
  });
});
