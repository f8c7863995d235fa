/**
 * `repro` end to end on the lab (needs root): a run whose raw dot-segment probe gets past an ALLOW on /public*
 * (pathNormalization NONE) FAILs; repro turns it into a minimal scenario that validates, is smaller, and FAILs the
 * same way with its positive control passing; finding.md carries the evidence of every attempt; commands.sh, run
 * as written, deploys the scenario on a kept lab and its curl line gets the request through, the application's
 * observation showing the un-normalised request line, and its grep for the nonce finds the sidecar's decision. A report claiming another verdict is "not reproduced" (1).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { run } from '../../src/engine/run.js';
import type { RunResult } from '../../src/engine/types.js';
import { sizeOf } from '../../src/findings/minimize.js';
import { repro, type ReproResult } from '../../src/findings/repro.js';
import { toJson } from '../../src/report/index.js';
import { loadScenarios } from '../../src/scenario/loader.js';
import { removeLab } from '../../src/targets/lab/state.js';
import { ensureAgentBundle, labNetns } from '../targets/lab/helpers.js';
import { describeAsRoot } from '../support/as-root.js';

describeAsRoot('repro (on the lab, as root)', () => {
  const FIXTURE = 'test/findings/fixtures/bypass.yaml';
  const PROBE = 'public-prefix-bypass/dot-segments';

  let dir: string;
  let original: RunResult;
  let report: string;
  let finding: ReproResult;

  beforeAll(async () => {
    ensureAgentBundle();
    // commands.sh runs bin/meshprobe.js, i.e. dist/: build it when this checkout's is older than the sources
    execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
    dir = await mkdtemp(join(tmpdir(), 'mp-repro-'));
    original = await run({ paths: [FIXTURE], target: 'lab', parallel: 1 });
    report = join(dir, 'report.json');
    await writeFile(report, toJson(original));
    finding = await repro({ input: report, probe: PROBE, out: join(dir, 'finding'), target: 'lab' });
  }, 600_000);

  describe('repro from a JSON report on the lab', () => {
    test('the original run FAILs the dot-segment probe: the request got through', () => {
      const p = original.scenarios[0].probes.find((x) => x.name === 'dot-segments');
      expect(p?.verdict).toBe('FAIL');
      expect(p?.observed?.reach).toBe(true);
      expect(original.scenarios[0].probes.find((x) => x.name === 'private')?.verdict).toBe('PASS');
    });

    test('the minimal scenario validates, is smaller and reproduces the verdict with its control passing', async () => {
      expect(finding.errors).toEqual([]);
      expect(finding.status).toBe(0);
      expect(finding.reproduced).toBe(true);
      expect(finding.observed?.verdict).toBe('FAIL');
      expect(finding.observed?.observed?.reach).toBe(true);
      const loaded = await loadScenarios([join(dir, 'finding', 'scenario.yaml')]);
      expect(loaded.errors).toEqual([]);
      const s = loaded.scenarios[0].scenario;
      expect(sizeOf(s)).toBeLessThan(finding.originalSize ?? 0);
      expect(s.spec.probes.map((p) => p.name)).toEqual(['dot-segments', 'public']);
    });

    test('finding.md holds the claim, the policy, expected vs observed, every attempt of both runs and the explanation', () => {
      const md = readFileSync(join(dir, 'finding', 'finding.md'), 'utf8');
      expect(md).toContain('Only /public is reachable on the web workload.');
      expect(md).toContain('web-public-only');
      expect(md).toMatch(/pathNormalization `+ NONE/);
      // the target's Istio (the lab's 1.30.0) against the supported releases this version knows
      expect(md).toContain('- release: ` Istio 1.30 is newer than the releases this meshprobe version knows');
      const orig = original.scenarios[0].probes.find((x) => x.name === 'dot-segments')!;
      for (const a of [...orig.attempts, ...(finding.observed?.attempts ?? [])]) expect(md).toContain(a.nonce);
      expect(md).toContain('GET /public/../private HTTP/1.1');
      expect(md).toMatch(/\*\*reproduced\*\*/);
      expect(md).toMatch(/authorization: allowed by AuthorizationPolicy app\/web-public-only/);
    });

    test('commands.sh holds the scenario up on the lab, its curl gets the request through, and the lab is gone after', async () => {
      const script = join(dir, 'finding', 'commands.sh');
      const { stdout } = await promisify(execFile)('bash', [script, 'lab'], { cwd: process.cwd(), timeout: 400_000, maxBuffer: 1 << 24 });
      const lab = /ip netns exec mp-([a-z0-9]{4,8})-/.exec(stdout)?.[1];
      try {
        expect(lab).toBeDefined();
        // the application answered the curl with its observation: the request line exactly as sent (NONE forwards it)
        expect(stdout).toMatch(/HTTP\/1\.1 200/);
        expect(stdout).toContain('"requestLine":"GET /public/../private HTTP/1.1"');
        expect(stdout).toContain('"nonce":"repro-dot-segments-1"');
        // step 4's `grep -F <nonce> …/sidecar.log` finds web's sidecar decision for that request (not the tail fallback)
        const decision = stdout
          .split('\n')
          .find((l) => /^\S+Z inbound \S+ -> \S+ allowed \| \{/.test(l) && l.includes('"nonce":"repro-dot-segments-1"'));
        expect(decision).toBeDefined();
        expect(decision).toContain('"policy":"AuthorizationPolicy app/web-public-only rule 0"');
        expect(decision).toContain('"received":"/public/../private"');
      } finally {
        // the script ends the hold on exit, which undeploys the lab; whatever it left is removed here
        if (lab && labNetns(lab).length > 0) await removeLab(lab);
      }
      expect(lab && labNetns(lab)).toEqual([]);
    }, 600_000);

    test('a report claiming another verdict is not reproduced (1); bad input is 2', async () => {
      const claimed = JSON.parse(toJson(original)) as RunResult;
      const p = claimed.scenarios[0].probes.find((x) => x.name === 'dot-segments')!;
      p.verdict = 'PASS';
      p.observed = { ...p.observed!, reach: false };
      const lie = join(dir, 'claimed.json');
      await writeFile(lie, JSON.stringify(claimed));
      const r = await repro({ input: lie, probe: PROBE, out: join(dir, 'claimed'), target: 'lab' });
      expect(r.status).toBe(1);
      expect(readFileSync(join(dir, 'claimed', 'finding.md'), 'utf8')).toContain('**NOT reproduced**');
      expect((await repro({ input: report, probe: 'bad', target: 'lab' })).status).toBe(2);
      expect((await repro({ input: report, probe: 'public-prefix-bypass/nope', target: 'lab' })).errors.join()).toMatch(/no probe "nope"/);
      expect((await repro({ input: join(dir, 'missing.json'), probe: PROBE, target: 'lab' })).status).toBe(2);
      expect(existsSync('meshprobe-findings')).toBe(false);
    }, 600_000);

    test('from a scenario file: the original is run first, then the minimal one; the CLI exits 0 and writes the three files', async () => {
      const { reproCommand } = await import('../../src/cli/repro.js');
      const out = join(dir, 'from-scenario');
      let text = '';
      const sink = {
        write: (c: string) => {
          text += c;
          return true;
        },
      } as unknown as NodeJS.WritableStream;
      expect(await reproCommand(FIXTURE, { probe: PROBE, out, target: 'lab' }, sink, sink)).toBe(0);
      expect(text).toContain(`running public-prefix-bypass to observe dot-segments`);
      expect(text).toContain('original FAIL, minimal scenario FAIL: reproduced');
      for (const f of ['scenario.yaml', 'finding.md', 'commands.sh']) expect(existsSync(join(out, f))).toBe(true);
      expect(await reproCommand(FIXTURE, {}, sink, sink)).toBe(2);
    }, 600_000);
  });
});
