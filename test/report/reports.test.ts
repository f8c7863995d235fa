import { beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../../src/engine/types.js';
import { finalReport, toJson, toJunit, writeReports } from '../../src/report/index.js';
import { ConsoleReporter } from '../../src/report/console.js';
import { mixedRun } from './fixture.js';

let result: RunResult;
beforeAll(async () => {
  result = await mixedRun();
});

describe('the fixture run', () => {
  it('has every verdict', () => {
    expect(result.scenarios.map((s) => [s.name, s.verdict])).toEqual([
      ['strict-mtls', 'FAIL'],
      ['flaky-one', 'FAIL'],
      ['pod-cannot-start', 'ERROR'],
      ['kind-only', 'SKIPPED'],
    ]);
    expect(result.exitStatus).toBe(2);
  });
});

describe('JSON report', () => {
  it('carries the documented fields', () => {
    const doc = JSON.parse(toJson(result));
    expect(doc).toMatchObject({ formatVersion: 1, incomplete: false, exitStatus: 2, target: { name: 'lab', istioVersion: '1.22.0' } });
    expect(doc.summary.scenarios).toEqual({ PASS: 0, FAIL: 2, FLAKY: 0, ERROR: 1, SKIPPED: 1, total: 4 });
    expect(doc.summary.probes).toMatchObject({ PASS: 4, FAIL: 1, FLAKY: 1, ERROR: 1, SKIPPED: 2, total: 9 });
    const denied = doc.scenarios[0].probes[1];
    expect(denied).toMatchObject({
      name: 'plaintext-denied',
      verdict: 'FAIL',
      reason: 'expected a TCP reset, the connection timed out after 2.0 s',
      expected: { reach: false, failure: 'reset' },
      observed: { outcome: 'timeout', reach: false, mtls: false },
    });
    expect(denied.attempts.length).toBeGreaterThanOrEqual(3);
    expect(denied.attempts[0]).toHaveProperty('nonce');
    expect(denied.attempts[0]).toHaveProperty('client.outcome.kind', 'timeout');
  });
});

describe('JUnit report', () => {
  it('has a suite per scenario and a case per probe, with evidence in failures', () => {
    const xml = toJunit(result);
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="meshprobe" tests="9" failures="2" errors="1" skipped="2"/);
    expect(xml.match(/<testsuite /g)).toHaveLength(4);
    expect(xml.match(/<testcase /g)).toHaveLength(9);
    expect(xml).toContain('<property name="target" value="lab"/>');
    expect(xml).toContain('<property name="istio.version" value="1.22.0"/>');
    expect(xml).toContain('<property name="target.note" value="fake target: scripted observations"/>');
    expect(xml).toContain('<failure message="FAIL: expected a TCP reset, the connection timed out after 2.0 s" type="FAIL">');
    expect(xml).toContain('type="FLAKY"');
    // Evidence and attempts in the failure text, escaped.
    expect(xml).toMatch(/expected: reach: false, failure: reset\nobserved: timeout, did not arrive/);
    expect(xml).toContain('CrashLoopBackOff &lt;exit 1&gt;');
    expect(xml).toContain('<skipped message="needs Istio &lt;1.13; the target runs 1.22.0"/>');
  });
});

describe('console report', () => {
  it('prints a final table and the reason of each non-PASS probe', () => {
    const text = finalReport(result, { color: false, verbose: false });
    expect(text).toMatch(/strict-mtls\s+FAIL\s+3\s+1\s+0\s+0\s+1/);
    expect(text).toContain(
      'FAIL strict-mtls/plaintext-denied: app/server → app/client:8080 (http)\n  expected a TCP reset, the connection timed out after 2.0 s',
    );
    expect(text).toContain('scenarios: 0 pass, 2 fail, 0 flaky, 1 error, 1 skipped');
  });

  it('in plain mode writes scenario lines and no control characters', () => {
    let out = '';
    const r = new ConsoleReporter({ write: (s) => (out += s), live: false, color: false, verbose: false });
    r.onEvent({ kind: 'run-start', target: { name: 'lab', istioVersion: '1.22.0' }, scenarios: 4, probes: 9 });
    for (const s of result.scenarios) r.onEvent({ kind: 'scenario-done', result: s });
    r.onEvent({ kind: 'run-done', result });
    expect(out).toContain('[1/4] FAIL    strict-mtls (5 probes');
    expect(out).toContain('[3/4] ERROR   pod-cannot-start');
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u001b\r]/);
  });

  it('in live mode redraws one status line with probe counters', () => {
    let out = '';
    const r = new ConsoleReporter({ write: (s) => (out += s), live: true, color: false, verbose: false });
    r.onEvent({ kind: 'run-start', target: { name: 'lab', istioVersion: '1.22.0' }, scenarios: 4, probes: 9 });
    r.onEvent({ kind: 'scenario-start', scenario: 'strict-mtls', probes: 5 });
    r.onEvent({ kind: 'probe-done', scenario: 'strict-mtls', probe: result.scenarios[0].probes[0] });
    expect(out).toContain('\r\u001b[Kscenarios 0/4 · probes 1/9 · PASS 1 · strict-mtls (deploying)');
  });
});

describe('writeReports', () => {
  it('writes all three into the report directory, explicit paths win', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mp-reports-'));
    try {
      const written = await writeReports(result, { dir: join(dir, 'r'), junit: join(dir, 'custom.xml') });
      expect(written).toEqual([join(dir, 'r', 'report.json'), join(dir, 'custom.xml'), join(dir, 'r', 'report.html')]);
      expect(JSON.parse(await readFile(written[0], 'utf8')).summary.probes.total).toBe(9);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
