/**
 * The fidelity matrix as predicted: its cells are what upstream's own tests say (sources in fidelity.ts), and a
 * flipped policy changes exactly the cells it should. The lab runs the same cells in
 * fidelity-matrix.integration.test.ts and must agree on every one.
 */
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWorkloadsFile } from '../../src/predict/inputs.js';
import { cellKey } from '../../src/predict/matrix.js';
import { fidelityInputs, flipPolicyTypes, predictFidelity, reachOf } from './fidelity.js';

describe('fidelity matrix: predictions follow upstream', () => {
  test('the matrix input loads: workloads with named ports, policies, request targets', async () => {
    const inputs = await fidelityInputs();
    expect(inputs.paths).toEqual([
      '/public/../private',
      '/public/./../private',
      '/public/%2e%2e/private',
      '/public/%2E%2E/private',
      '/public/../public',
    ]);
    expect(inputs.resources.map((r) => r.metadata.name)).toEqual([
      'allow-public',
      'egress-empty',
      'policytypes-empty',
      'egress-rules',
      'egress-only',
    ]);
    expect(predictFidelity(inputs).cells).toHaveLength(252);
  });

  test('paths in a workloads file are request targets: one that is not is an error at its position', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshprobe-paths-'));
    try {
      const file = join(dir, 'w.yaml');
      writeFileSync(file, 'namespaces: [{name: app}]\nworkloads: [{name: w, namespace: app}]\npaths:\n  - /ok\n  - "no slash"\n');
      const r = await loadWorkloadsFile(file);
      expect(r.ok ? [] : r.errors).toEqual([
        `${file}:5:5: paths[1]: must start with "/" and hold only visible ASCII: no spaces or control characters (percent-encode the rest)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('TestAuthz_PathNormalization: dot segments (also %2e%2e, %2E%2E) denied after BASE normalisation, /public/../public allowed', async () => {
    const m = predictFidelity(await fidelityInputs());
    for (const path of ['/public/../private', '/public/./../private', '/public/%2e%2e/private', '/public/%2E%2E/private'])
      expect([path, reachOf(m, 'app/client', 'app/api', 8080, 'http', path)]).toEqual([path, false]);
    expect(reachOf(m, 'app/client', 'app/api', 8080, 'http', '/public/../public')).toBe(true);
    expect(reachOf(m, 'app/client', 'app/api', 8080, 'http')).toBe(false); // "/" matches no rule
  });

  test('SetDefaults_NetworkPolicy: egress [] adds no Egress; policyTypes [] is [Ingress]; egress rules add Egress; explicit [Egress] kept', async () => {
    const m = predictFidelity(await fidelityInputs());
    // egress: [] → [Ingress]: np/a's egress stays open (the lab once isolated it).
    expect(reachOf(m, 'np/a', 'app/client', 8080, 'http')).toBe(true);
    expect(reachOf(m, 'np/a', 'np/e', 5353, 'udp')).toBe(true);
    // policyTypes: [] → [Ingress] with no rules: all ingress to np/b denied (the lab once installed nothing).
    expect(reachOf(m, 'app/client', 'np/b', 8080, 'http')).toBe(false);
    expect(reachOf(m, 'np/a', 'np/b', 5353, 'udp')).toBe(false);
    // egress rules without policyTypes → [Ingress, Egress]: np/d's ingress denied, egress only to TCP 8080.
    expect(reachOf(m, 'np/e', 'np/d', 8080, 'http')).toBe(false);
    expect(reachOf(m, 'np/d', 'np/e', 8080, 'http')).toBe(true);
    expect(reachOf(m, 'np/d', 'np/e', 5353, 'udp')).toBe(false);
    // policyTypes: [Egress], no egress rules: np/e reaches nothing, and is reachable.
    expect(reachOf(m, 'np/e', 'np/a', 8080, 'http')).toBe(false);
    expect(reachOf(m, 'np/a', 'np/e', 8080, 'http')).toBe(true);
  });

  test('"should allow ingress access on one named port": np/a admits http-web (TCP 8080) from its namespace, not dns (UDP)', async () => {
    const m = predictFidelity(await fidelityInputs());
    expect(reachOf(m, 'np/e', 'np/a', 8080, 'http')).toBe(false); // np/e's own egress isolation
    expect(reachOf(m, 'np/b', 'np/a', 8080, 'http')).toBe(true);
    expect(reachOf(m, 'np/b', 'np/a', 5353, 'udp')).toBe(false);
    expect(reachOf(m, 'app/client', 'np/a', 8080, 'http')).toBe(false);
  });

  test('mutation: policytypes-empty flipped to [Egress] changes exactly np/b ingress (opens) and egress (closes)', async () => {
    const inputs = await fidelityInputs();
    const before = predictFidelity(inputs);
    const after = predictFidelity(inputs, flipPolicyTypes(inputs.resources));
    const was = new Map(before.cells.map((c) => [cellKey(c.flow), c.prediction.reach]));
    const changed = after.cells.filter((c) => was.get(cellKey(c.flow)) !== c.prediction.reach);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((c) => (c.flow.to === 'np/b') !== (c.flow.from === 'np/b'))).toBe(true);
    expect(changed.filter((c) => c.flow.to === 'np/b').every((c) => c.prediction.reach)).toBe(true);
    expect(changed.filter((c) => c.flow.from === 'np/b').every((c) => !c.prediction.reach)).toBe(true);
  });
});
