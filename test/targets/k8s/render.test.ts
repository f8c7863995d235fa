import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { renderRun } from '../../../src/targets/kind/render-run.js';
import { validateManifest } from './schema-validate.js';
import { registryOnly, strictMtls } from './fixtures.js';
import { loadScenarios } from '../../../src/scenario/loader.js';
import { AGENT_BUNDLE_FILE } from '../../../src/targets/k8s/agent-process.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('meshprobe render --target kind', () => {
  test('writes every manifest (schema-valid) and every command, grouped by profile, without a cluster', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'mp-render-'));
    dirs.push(out);
    const r = await renderRun([strictMtls(), registryOnly()], { outDir: out, runId: 'rr1' });
    expect(r.files).toContain('commands.sh');
    const manifests = r.files.filter((f) => f.endsWith('.yaml'));
    expect(manifests.some((f) => f.startsWith('default/strict-rejects-plaintext/'))).toBe(true);
    expect(manifests.some((f) => f.startsWith('registry-only/registry-only-blocks/'))).toBe(true);
    for (const f of manifests) await validateManifest(YAML.parse(await readFile(path.join(out, f), 'utf8')));
    const script = await readFile(path.join(out, 'commands.sh'), 'utf8');
    expect(script).toMatch(/^kind create cluster --name meshprobe --config .*clusters\/default\/kind\.yaml --wait 180s/m);
    expect(script).toMatch(/^kind create cluster --name meshprobe --config .*clusters\/registry-only\/kind\.yaml/m);
    expect(script).toMatch(/^istioctl analyze --context kind-meshprobe -n mp-rr1-[0-9a-f]{4}-app -o json$/m);
    expect(script).toMatch(
      /kubectl --context kind-meshprobe exec -i -n mp-rr1-.*-legacy deploy\/client -c agent -- sh -c 'head -n 1 \| node \/agent\/meshprobe-agent.mjs call --chains --stagger 100'/,
    );
    expect(script).toMatch(/^kind delete cluster --name meshprobe/m);
  });

  test('says per scenario where the agent comes from: the stock image with the bundle ConfigMap, or the probe image and why', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'mp-render-'));
    dirs.push(out);
    const loaded = await loadScenarios([
      'scenarios/istio-security-best-practices/01-permissive-accepts-both.yaml',
      'scenarios/istio-security-best-practices/06-icmp-not-captured.yaml',
    ]);
    expect(loaded.errors).toEqual([]);
    const r = await renderRun(
      loaded.scenarios.map((l) => l.scenario),
      { outDir: out, runId: 'rr2' },
    );
    expect(r.agents).toEqual([
      {
        scenario: 'permissive-accepts-both',
        line: expect.stringMatching(/^agent: stock image node:22-slim with the agent mounted from a ConfigMap/),
      },
      { scenario: 'icmp-not-captured', line: expect.stringMatching(/^agent: probe image, because probe \S+ is icmp: ping is not in node:22-slim/) },
    ]);
    const script = await readFile(path.join(out, 'commands.sh'), 'utf8');
    expect(script).toMatch(/^# scenario icmp-not-captured\n# agent: probe image, because/m);
    const bundles = r.files.filter((f) => /-configmap-meshprobe-agent\.yaml$/.test(f));
    expect(bundles.length).toBeGreaterThan(0);
    expect(bundles.every((f) => f.startsWith('default/permissive-accepts-both/'))).toBe(true);
    const cm = YAML.parse(await readFile(path.join(out, bundles[0]), 'utf8')) as { data: Record<string, string> };
    expect(cm.data['meshprobe-agent.mjs']).toBe(await readFile(AGENT_BUNDLE_FILE, 'utf8'));
  });

  test('`as` another uid from a workload declaring a non-root uid: render says why it cannot run (setpriv needs uid 0); `as` its own uid renders in stock mode', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'mp-render-'));
    dirs.push(out);
    const withAs = (name: string, user: number) => {
      const s = strictMtls();
      const probe = { ...s.spec.probes.find((p) => p.name === 'mtls-from-mesh')!, name: 'as-probe', from: 'app/server', as: { user } };
      return { ...s, metadata: { ...s.metadata, name }, spec: { ...s.spec, probes: [...s.spec.probes, probe] } };
    };
    // the fixture's server declares runAsUser 1000
    const r = await renderRun([withAs('as-other', 1337), withAs('as-own', 1000)], { outDir: out, runId: 'rr3' });
    expect(r.agents[0]).toEqual({
      scenario: 'as-other',
      line: expect.stringMatching(/^not run: .*runs as uid 1000 but its probes use `as: \{user: 1337\}` \(probe as-probe: setpriv needs CAP_SETUID/),
    });
    expect(r.agents[1]).toEqual({ scenario: 'as-own', line: expect.stringMatching(/^agent: stock image/) });
    expect(r.files.some((f) => f.includes('/as-other/'))).toBe(false);
    const script = await readFile(path.join(out, 'commands.sh'), 'utf8');
    expect(script).toMatch(/^# scenario as-other: not run on kind: .*kubernetes#56374/m);
    expect(script).toMatch(
      /exec -i -n mp-rr3-[0-9a-f]{4}-app deploy\/server -c agent -- sh -c 'head -n 1 \| node \/agent\/meshprobe-agent\.mjs call/,
    );
    expect(script).not.toMatch(/setpriv --reuid/);
  });
});
