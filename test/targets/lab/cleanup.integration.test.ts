/**
 * A run killed with -9 leaves its lab behind; the next run (or `meshprobe lab clean`) removes it completely and
 * leaves a live lab alone. Needs root.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { build } from 'esbuild';
import { labCleanCommand } from '../../../src/cli/lab.js';
import { LabTarget } from '../../../src/targets/lab/index.js';
import type { LabDeployment } from '../../../src/targets/lab/deploy.js';
import { PACKAGE_ROOT } from '../../../src/targets/lab/bundles.js';
import { ensureAgentBundle, labLeftovers, labNetns, makeScenario } from './helpers.js';
import { describeAsRoot } from '../../support/as-root.js';

describeAsRoot('cleanup (on the lab, as root)', () => {
  const FIXTURE = `${PACKAGE_ROOT}/dist/lab/test/owner-fixture.mjs`;
  const live = new LabTarget();

  afterAll(async () => {
    await live.teardown();
  });

  function startOwner(): Promise<{ labId: string; kill: () => void }> {
    const child = spawn(process.execPath, [FIXTURE], { stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
      child.stdout.setEncoding('utf8').once('data', (d: string) => resolve({ labId: d.trim(), kill: () => child.kill('SIGKILL') }));
      child.once('exit', (code) => reject(new Error(`owner exited early (${code})`)));
    });
  }

  describe('cleanup after kill -9', () => {
    test("the next clean removes the killed run's lab and nothing else", async () => {
      ensureAgentBundle();
      await build({
        entryPoints: ['test/targets/lab/owner-fixture.ts'],
        outfile: FIXTURE,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        logLevel: 'error',
      });
      await live.prepare();
      const mine = (await live.deploy(
        makeScenario('live', {
          workloads: [{ name: 'a', namespace: 'app' }],
          probes: [{ name: 'p', from: 'app/a', to: 'app/a', protocol: 'icmp', expect: { reach: true } }],
        }),
      )) as LabDeployment;

      const owner = await startOwner();
      expect(labNetns(owner.labId).length).toBeGreaterThan(0); // the owner's lab is up
      owner.kill();
      await new Promise((r) => setTimeout(r, 200));
      // The kill leaves the lab behind. (Another test's LabTarget.prepare may remove it first: it cleans stale labs
      // too, which is the point; either way nothing of it may be left once this clean has run.)
      expect(existsSync(`/run/meshprobe/labs/${owner.labId}`) || labNetns(owner.labId).length === 0).toBe(true);

      expect(await labCleanCommand()).toBe(0);
      expect(labLeftovers(owner.labId)).toEqual([]);
      expect(labNetns(mine.labId).length).toBe(2); // the live lab (node + one pod) is untouched
      const id = mine.labId;
      await live.teardown();
      expect(labLeftovers(id)).toEqual([]);
    }, 60_000);
  });
});
