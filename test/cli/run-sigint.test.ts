/**
 * Ctrl-C during a run: the `meshprobe run` command stops probing, undeploys and tears down, writes the reports
 * marked incomplete, and exits 130. The command runs in a child process (bundled with esbuild) against a fake
 * target and gets a real SIGINT; run-sigint.integration.test.ts does the same with the built CLI on the lab.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT, runAndInterrupt } from './interrupt.js';

describe('SIGINT during meshprobe run', () => {
  it('stops, cleans up everything deployed, writes incomplete reports and exits 130', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mp-sigint-'));
    try {
      // Inside the checkout so the bundle's bare imports (commander, zod, semver) resolve from node_modules.
      const bundle = join(ROOT, 'node_modules', '.cache', `mp-sigint-child-${process.pid}.mjs`);
      await build({
        entryPoints: [join(ROOT, 'test/cli/sigint-child.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: bundle,
        packages: 'external',
        absWorkingDir: ROOT,
        logLevel: 'silent',
      });
      const state = join(dir, 'state.json');
      const { code, out } = await runAndInterrupt([bundle, state, join(dir, 'reports')], 30_000, (out) => out.includes('child: deployed'));
      expect(out).toContain('SIGINT: stopping probes and cleaning up');
      expect(code).toBe(130);
      const s = JSON.parse(await readFile(state, 'utf8'));
      expect(s.calls.deployed.length).toBeGreaterThan(0);
      expect(s.leftBehind).toEqual([]);
      expect(s.calls.teardown).toBe(1);
      const report = JSON.parse(await readFile(join(dir, 'reports', 'report.json'), 'utf8'));
      expect(report).toMatchObject({ incomplete: true, exitStatus: 130 });
      expect(await readFile(join(dir, 'reports', 'junit.xml'), 'utf8')).toContain('<property name="incomplete" value="true"/>');
      expect(await readFile(join(dir, 'reports', 'report.html'), 'utf8')).toContain('id="incomplete"');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(join(ROOT, 'node_modules', '.cache', `mp-sigint-child-${process.pid}.mjs`), { force: true });
    }
  }, 60_000);
});
