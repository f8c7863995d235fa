/**
 * The whole pipeline on the lab (loader → engine → LabTarget → sidecars → verdicts): mTLS and the peer identity on
 * a TCP port are judged from the sidecar's record, and the same scenario with its key policy line inverted FAILs,
 * with the sidecar's decision log attached as evidence. Needs root.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/engine/run.js';
import type { RunResult } from '../../../src/engine/types.js';
import { LabTarget } from '../../../src/targets/lab/index.js';
import { ensureAgentBundle } from './helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('engine (on the lab, as root)', () => {
  const scenario = (name: string, mode: string) => `apiVersion: meshprobe.io/v1
kind: Scenario
metadata: {name: ${name}}
spec:
  namespaces: [{name: app}, {name: legacy, sidecarInjection: false}]
  workloads:
    - {name: db, namespace: app, ports: [{port: 5432, protocol: tcp}]}
    - {name: client, namespace: app}
    - {name: client, namespace: legacy}
  resources:
    - apiVersion: security.istio.io/v1
      kind: PeerAuthentication
      metadata: {name: default, namespace: app}
      spec: {mtls: {mode: ${mode}}}
  probes:
    - name: mtls-tcp
      from: app/client
      to: app/db
      port: 5432
      protocol: tcp
      expect: {reach: true, mtls: true, peer: spiffe://cluster.local/ns/app/sa/client, viaSidecar: true}
    - name: plaintext-tcp
      from: legacy/client
      to: app/db
      port: 5432
      protocol: tcp
      expect: {reach: false, failure: reset}
`;

  let dir: string;
  let result: RunResult;

  beforeAll(async () => {
    ensureAgentBundle();
    dir = await mkdtemp(join(tmpdir(), 'mp-lab-engine-'));
    await writeFile(join(dir, 'strict.yaml'), scenario('strict-holds', 'STRICT'));
    await writeFile(join(dir, 'inverted.yaml'), scenario('strict-inverted', 'PERMISSIVE'));
    result = await run({ paths: [dir], target: new LabTarget(), settleTimeoutMs: 3_000 });
  }, 90_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const verdict = (name: string) => result.scenarios.find((s) => s.name === name);

  describe('the engine on the lab', () => {
    test('STRICT: mTLS with the peer identity on TCP (from the sidecar record) and plaintext closed — PASS', () => {
      expect(result.inputErrors).toEqual([]);
      expect(verdict('strict-holds')?.verdict).toBe('PASS');
    });
    test('the inverted policy (PERMISSIVE) lets plaintext in: FAIL, with the sidecar decision log attached', () => {
      const inverted = verdict('strict-inverted');
      expect(inverted?.verdict).toBe('FAIL');
      expect(inverted?.probes.find((p) => p.name === 'plaintext-tcp')?.verdict).toBe('FAIL');
      expect(inverted?.probes.find((p) => p.name === 'mtls-tcp')?.verdict).toBe('PASS');
      expect(inverted?.diagnostics.map((d) => d.title).join('\n')).toMatch(/sidecar decision log of app\/db/);
    });
  });
});
