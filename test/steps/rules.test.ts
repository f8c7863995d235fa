/** Loader rules of spec.steps (scenario-v1-additions), each error naming file:line:col and the field. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { formatError, loadScenarios } from '../../src/scenario/loader.js';
import { allProbes, resourcesAfter } from '../../src/scenario/steps.js';
import { LIFECYCLE } from './fixtures.js';

async function load(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'mp-steps-'));
  writeFileSync(join(dir, 's.yaml'), text);
  const r = await loadScenarios([join(dir, 's.yaml')]);
  return { scenario: r.scenarios[0]?.scenario, errors: r.errors.map(formatError).map((e) => e.replace(/^.*s\.yaml:/, '')) };
}

describe('spec.steps', () => {
  test('the lifecycle loads: probes by step, resources in force after each step', async () => {
    const { scenario, errors } = await load(LIFECYCLE);
    expect(errors).toEqual([]);
    expect(allProbes(scenario!).map((p) => p.name)).toHaveLength(6);
    const steps = scenario!.spec.steps!;
    expect(
      resourcesAfter(scenario!, steps.slice(0, 2)).map(
        (r) => (r.spec as { rules: Array<{ to: Array<{ operation: { paths: string[] } }> }> }).rules[0].to[0].operation.paths,
      ),
    ).toEqual([['/public*']]);
    expect(resourcesAfter(scenario!, steps)).toEqual([]);
  });

  test('steps exclude top-level probes', async () => {
    const text = LIFECYCLE.replace(
      '  steps:\n',
      '  probes:\n    - {name: top, from: app/client, to: app/web, port: 8080, protocol: http, expect: {reach: true}}\n  steps:\n',
    );
    expect((await load(text)).errors).toEqual([expect.stringMatching(/^\d+:\d+: spec\.probes: steps exclude top-level probes/)]);
  });

  test('every step with probes has its own positive control', async () => {
    const text = LIFECYCLE.replace(
      'name: public-open, from: app/client, to: app/web, port: 8080, protocol: http, http: {path: /public}, expect: {reach: true}',
      'name: public-open, from: app/client, to: app/web, port: 8080, protocol: http, http: {path: /public}, expect: {reach: false}',
    );
    expect((await load(text)).errors).toEqual([expect.stringMatching(/spec\.steps\[0\]\.probes: no positive control in step deny-admin/)]);
  });

  test('delete names something applied earlier (and not deleted since)', async () => {
    const text = LIFECYCLE.replace('namespace: app, name: web-deny}]', 'namespace: app, name: web-allow}]');
    expect((await load(text)).errors).toEqual([
      expect.stringMatching(
        /spec\.steps\[2\]\.delete\[0\]: AuthorizationPolicy app\/web-allow is not applied earlier in the scenario \(in force before this step: AuthorizationPolicy app\/web-deny\)/,
      ),
    ]);
    const twice = LIFECYCLE.replace(
      'delete: [{apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, namespace: app, name: web-deny}]',
      'delete: [{apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, namespace: app, name: web-deny}, {apiVersion: security.istio.io/v1, kind: AuthorizationPolicy, namespace: app, name: web-deny}]',
    );
    expect((await load(twice)).errors).toEqual([
      expect.stringMatching(/spec\.steps\[2\]\.delete\[1\]: .*not applied earlier.*in force before this step: nothing/),
    ]);
  });

  test('probe names are unique across the scenario; step names too', async () => {
    const text = LIFECYCLE.replace('name: admin-open-after-delete', 'name: admin-denied').replace('name: deleted-policy', 'name: deny-admin');
    const { errors } = await load(text);
    expect(errors).toEqual([
      expect.stringMatching(/spec\.steps\[2\]\.name: duplicate step "deny-admin"/),
      expect.stringMatching(/spec\.steps\[2\]\.probes\[1\]\.name: duplicate probe "admin-denied" \(also in step deny-admin\)/),
    ]);
  });

  test("a step's manifests are checked against their kind's schema and its probes by the probe rules", async () => {
    const text = LIFECYCLE.replace(
      'action: DENY\n            rules: [{to: [{operation: {paths: ["/public*"]}}]}]',
      'action: DENYY\n            rules: [{to: [{operation: {paths: ["/public*"]}}]}]',
    ).replace('name: admin-open-after-update, from: app/client', 'name: admin-open-after-update, from: app/nobody');
    const { errors } = await load(text);
    expect(errors.join('\n')).toMatch(/spec\.steps\[1\]\.apply\[0\]\.spec\.action/);
    expect(errors.join('\n')).toMatch(/spec\.steps\[1\]\.probes\[0\]\.from: "app\/nobody" is not a declared workload/);
  });

  test('without steps a scenario still needs probes', async () => {
    const i = LIFECYCLE.indexOf('  steps:');
    expect((await load(`${LIFECYCLE.slice(0, i)}  probes: []\n`)).errors).toEqual([expect.stringMatching(/spec\.probes: must list at least 1 item/)]);
  });
});
