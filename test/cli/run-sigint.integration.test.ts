/**
 * Ctrl-C during `meshprobe run` on the lab (the built CLI, as root): no network namespace is left behind and the
 * reports are still written, marked incomplete, with exit status 130.
 */
import { expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeAsRoot } from '../support/as-root.js';
import { ROOT, runAndInterrupt } from './interrupt.js';

describeAsRoot('SIGINT during meshprobe run on the lab', () => {
  it('leaves no network namespace behind and still writes the incomplete reports', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mp-sigint-lab-'));
    const netns = () =>
      execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.startsWith('mp-'))
        .map((l) => l.split(' ')[0]);
    const before = new Set(netns());
    try {
      const yaml = (n: string) => `apiVersion: meshprobe.io/v1
kind: Scenario
metadata: {name: ${n}}
spec:
  namespaces: [{name: app}]
  workloads:
    - {name: server, namespace: app, ports: [{port: 8080, protocol: http}]}
    - {name: sigint-client, namespace: app}
  probes:
    - {name: ok, from: app/sigint-client, to: app/server, port: 8080, protocol: http, expect: {reach: true}}
    - {name: never, from: app/sigint-client, to: app/server, port: 8080, protocol: http, expect: {reach: false}}
`;
      for (const n of ['sig-a', 'sig-b', 'sig-c']) await writeFile(join(dir, `${n}.yaml`), yaml(n));
      const ours = () => netns().filter((n) => !before.has(n) && n.endsWith('-app-sigint-client'));
      let deployed = 0;
      const argv = [join(ROOT, 'bin/meshprobe.js'), 'run', dir, '--settle-timeout', '10m', '--report-dir', join(dir, 'reports')];
      const { code } = await runAndInterrupt(argv, 30_000, () => {
        deployed = Math.max(deployed, ours().length);
        return deployed >= 2;
      });
      expect(deployed).toBeGreaterThanOrEqual(2); // interrupted while labs were up, not before
      expect(code).toBe(130);
      // Other labs may come and go meanwhile (parallel test files): this run's pods are the ones named sigint-client.
      expect(ours()).toEqual([]);
      const report = JSON.parse(await readFile(join(dir, 'reports', 'report.json'), 'utf8'));
      expect(report).toMatchObject({ incomplete: true, exitStatus: 130 });
      expect(await readFile(join(dir, 'reports', 'junit.xml'), 'utf8')).toContain('<property name="incomplete" value="true"/>');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
