/**
 * REGISTRY_ONLY, HTTPS to a host without a ServiceEntry, judged by the whole engine on the lab with real traffic.
 * The client sidecar sends the TLS connection to BlackHoleCluster and closes it; whether the client sees that
 * close as a reset or as an eof depends on timing, and `failure: reset` accepts both. Consecutive attempts are
 * compared on what the expectation distinguishes, so the verdict is PASS however the attempts alternate (it was
 * FLAKY when raw outcomes were compared). A `failure: timeout` expectation distinguishes the close from a
 * timeout, so the same denial is a stable FAIL, never PASS. Needs root.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/engine/run.js';
import type { ProbeJudgement, RunResult } from '../../src/engine/types.js';
import { LabTarget } from '../../src/targets/lab/index.js';
import { ensureAgentBundle } from '../targets/lab/helpers.js';
import { describeAsRoot } from '../support/as-root.js';

describeAsRoot('registry-only (on the lab, as root)', () => {
  const scenario = `apiVersion: meshprobe.io/v1
kind: Scenario
metadata: {name: registry-only-https}
spec:
  mesh: {outboundTrafficPolicy: REGISTRY_ONLY}
  namespaces: [{name: app}]
  workloads: [{name: client, namespace: app}]
  externals:
    - {name: unknown.example.test, ports: [{port: 443, protocol: https}]}
    - {name: known.example.test, ports: [{port: 443, protocol: https}]}
  resources:
    - apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: {name: known, namespace: app}
      spec: {hosts: [known.example.test], ports: [{number: 443, name: tls, protocol: TLS}], location: MESH_EXTERNAL, resolution: DNS}
  probes:
    - name: https-registered-host
      from: app/client
      to: known.example.test
      port: 443
      protocol: https
      expect: {reach: true}
    - name: https-unknown-host
      from: app/client
      to: unknown.example.test
      port: 443
      protocol: https
      expect: {reach: false, failure: reset}
    - name: https-unknown-host-expecting-timeout
      from: app/client
      to: unknown.example.test
      port: 443
      protocol: https
      expect: {reach: false, failure: timeout}
`;

  let dir: string;
  let result: RunResult;

  beforeAll(async () => {
    ensureAgentBundle();
    dir = await mkdtemp(join(tmpdir(), 'mp-registry-only-'));
    await writeFile(join(dir, 'registry-only.yaml'), scenario);
    result = await run({ paths: [dir], target: new LabTarget(), settleTimeoutMs: 2_000, consecutive: 6 });
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const probe = (name: string): ProbeJudgement | undefined => result.scenarios[0]?.probes.find((p) => p.name === name);
  const outcomes = (p: ProbeJudgement | undefined) =>
    (p?.attempts ?? []).map((a) => (a.evaluation.kind === 'judged' ? a.evaluation.facts.outcome : 'infrastructure'));

  describe('REGISTRY_ONLY HTTPS denial', () => {
    test('the connection is closed (reset or eof), nothing arrives, and the verdict is PASS', () => {
      expect(result.inputErrors).toEqual([]);
      const p = probe('https-unknown-host');
      const seen = outcomes(p);
      expect(seen.length).toBeGreaterThanOrEqual(6);
      for (const o of seen) expect(['reset', 'eof']).toContain(o);
      expect(p?.verdict).toBe('PASS');
      expect(p?.reason).toMatch(/6 times in a row/);
    });
    test('the positive control: a ServiceEntry host is reached over HTTPS', () => {
      expect(probe('https-registered-host')?.verdict).toBe('PASS');
    });
    test('an expectation the close does not satisfy is not turned into a pass', () => {
      expect(probe('https-unknown-host-expecting-timeout')?.verdict).toMatch(/^(FAIL|FLAKY)$/);
    });
  });
});
