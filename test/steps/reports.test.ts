/** Every report names a probe's step (scenario-v1-additions: "Reports show each probe's step"). */
import { expect, test } from '@jest/globals';
import type { RunResult } from '../../src/engine/types.js';
import { finalReport, toHtml, toJson, toJunit } from '../../src/report/index.js';

const judgement = (name: string, step: string, verdict: 'PASS' | 'FAIL') => ({
  name,
  step,
  from: 'app/client',
  to: 'app/web',
  port: 8080,
  protocol: 'http',
  expected: { reach: true },
  verdict,
  reason: verdict === 'PASS' ? 'reached' : 'expected reach, observed http-403',
  observed: null,
  checks: [],
  attempts: [],
  durationMs: 1,
});

const result: RunResult = {
  formatVersion: 1,
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1,
  target: { name: 'lab', istioVersion: '1.26.2' },
  settings: { consecutive: 3, settleTimeoutMs: 10_000, parallel: 1 },
  incomplete: false,
  inputErrors: [],
  scenarios: [
    {
      name: 'policy-lifecycle',
      tags: [],
      verdict: 'FAIL',
      probes: [judgement('public-open', 'deny-admin', 'PASS'), judgement('admin-open-after-delete', 'deleted-policy', 'FAIL')],
      diagnostics: [],
      durationMs: 1,
    },
  ],
  summary: {
    scenarios: { PASS: 0, FAIL: 1, FLAKY: 0, ERROR: 0, SKIPPED: 0, total: 1 },
    probes: { PASS: 1, FAIL: 1, FLAKY: 0, ERROR: 0, SKIPPED: 0, total: 2 },
  },
  probePhase: { wallMs: 1, probes: 2, attempts: 0 },
  exitStatus: 1,
};

test('JSON, JUnit, HTML and the console summary show the step of each probe', () => {
  expect(JSON.parse(toJson(result)).scenarios[0].probes.map((p: { step: string }) => p.step)).toEqual(['deny-admin', 'deleted-policy']);
  expect(toJunit(result)).toContain('name="[deleted-policy] admin-open-after-delete"');
  expect(toHtml(result)).toContain('[deny-admin] public-open');
  expect(finalReport(result, { color: false, verbose: false })).toContain('policy-lifecycle/[deleted-policy] admin-open-after-delete');
});
