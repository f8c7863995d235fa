/**
 * Steps on the lab (needs root): a policy applied, updated and deleted in one deployment, each step's probes
 * judged after the change with real traffic; every judgement carries its step.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { run } from '../../src/engine/run.js';
import type { RunResult } from '../../src/engine/types.js';
import { ensureAgentBundle } from '../targets/lab/helpers.js';
import { LIFECYCLE } from './fixtures.js';
import { describeAsRoot } from '../support/as-root.js';

describeAsRoot('lab (on the lab, as root)', () => {
  let result: RunResult;

  beforeAll(async () => {
    ensureAgentBundle();
    const dir = mkdtempSync(join(tmpdir(), 'mp-steps-lab-'));
    writeFileSync(join(dir, 'lifecycle.yaml'), LIFECYCLE);
    result = await run({ paths: [join(dir, 'lifecycle.yaml')], target: 'lab' });
  }, 600_000);

  describe('policy lifecycle on the lab', () => {
    test('applied, updated and deleted policy: every step judged PASS in order', () => {
      const s = result.scenarios[0];
      expect(result.inputErrors).toEqual([]);
      expect(s.probes.map((p) => [p.step, p.name, p.verdict, p.observed?.outcome])).toEqual([
        ['deny-admin', 'public-open', 'PASS', 'ok'],
        ['deny-admin', 'admin-denied', 'PASS', 'http-403'],
        ['updated-policy', 'admin-open-after-update', 'PASS', 'ok'],
        ['updated-policy', 'public-denied-after-update', 'PASS', 'http-403'],
        ['deleted-policy', 'public-open-after-delete', 'PASS', 'ok'],
        ['deleted-policy', 'admin-open-after-delete', 'PASS', 'ok'],
      ]);
      expect(s.verdict).toBe('PASS');
      expect(result.exitStatus).toBe(0);
    });

    test('probes of a later step ran after the change: the decision log of the earlier step is not what judged them', () => {
      const s = result.scenarios[0];
      const firstDenied = s.probes.find((p) => p.name === 'admin-denied')!;
      const laterOpen = s.probes.find((p) => p.name === 'admin-open-after-update')!;
      // the same request, /admin, denied in step 1 and reaching the application in step 2
      expect(firstDenied.attempts.every((a) => a.arrived.length === 0)).toBe(true);
      expect(laterOpen.attempts.filter((a) => a.phase !== 'after-verdict').every((a) => a.arrived.length === 1)).toBe(true);
    });
  });
});
