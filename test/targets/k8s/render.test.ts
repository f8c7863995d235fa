import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { renderRun } from '../../../src/targets/kind/render-run.js';
import { validateManifest } from './schema-validate.js';
import { registryOnly, strictMtls } from './fixtures.js';

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
});
