/**
 * Release and feature status (Security Best Practices, "Release and security policy" and "Avoid alpha and
 * experimental features"): the target's Istio version placed in istio.io's support table, the scenario's manifests
 * that use an Alpha/Experimental feature of istio.io's feature list; both reach the JSON, console and HTML reports
 * of a run (the scripted target: no traffic needed).
 */
import { describe, expect, test } from '@jest/globals';
import { run } from '../../src/engine/run.js';
import { featureFlags, releaseStatus } from '../../src/model/index.js';
import { finalReport, toHtml, toJson, toJunit } from '../../src/report/index.js';
import { FakeTarget, loaded, probe, step } from '../engine/fake-target.js';

const envoyFilter = { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'lua', namespace: 'app' }, spec: {} };
const wasm = { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', metadata: { name: 'auth', namespace: 'app' }, spec: {} };
const vs = { apiVersion: 'networking.istio.io/v1alpha3', kind: 'VirtualService', metadata: { name: 'r', namespace: 'app' }, spec: {} };

describe('releaseStatus (istio.io supported releases)', () => {
  test('a release in the table: supported or end of life, with its dates', () => {
    expect(releaseStatus('1.22.3')).toMatchObject({ state: 'supported', releaseDate: 'May 13, 2024', eolDate: '~Jan 2025 (Expected)' });
    const old = releaseStatus('1.18.0');
    expect(old).toMatchObject({ state: 'end-of-life', eolDate: 'Jan 4, 2024' });
    expect(old.text).toContain('no longer supported');
  });
  test('newer than the table: said so, never guessed; older than the table: end of life', () => {
    const s = releaseStatus('1.30.0');
    expect(s.state).toBe('newer-than-known');
    expect(s.text).toContain('1.13–1.22');
    expect(s.text).toContain('https://istio.io/latest/docs/releases/supported-releases/');
    expect(releaseStatus('1.9.5').state).toBe('end-of-life');
    expect(releaseStatus('1.20.0-beta.1').state).toBe('end-of-life');
  });
  test('what is not a 1.x version is unknown', () => {
    expect(releaseStatus('2.0.0').state).toBe('unknown');
    expect(releaseStatus('latest').state).toBe('unknown');
  });
});

describe('featureFlags (istio.io feature status)', () => {
  test('EnvoyFilter and WasmPlugin are Alpha, in resources and in steps; other kinds are not flagged', () => {
    const flags = featureFlags({ resources: [vs, envoyFilter], steps: [{ name: 'add-wasm', apply: [wasm] }] });
    expect(flags.map((f) => [f.resource, f.feature, f.maturity])).toEqual([
      ['EnvoyFilter app/lua', 'Enabling custom filters in Envoy', 'Alpha'],
      ['WasmPlugin app/auth (step add-wasm)', 'WebAssembly Extension', 'Alpha'],
    ]);
    expect(flags[0]?.source).toContain('data/features.yaml');
    expect(featureFlags({ resources: [vs, { ...envoyFilter, apiVersion: 'example.com/v1' }] })).toEqual([]);
  });
});

describe('in the reports of a run', () => {
  async function runWith(istioVersion: string) {
    return run({
      target: new FakeTarget({ istioVersion, script: { ok: [step.ok()] } }),
      settleTimeoutMs: 20,
      load: async () => ({ errors: [], scenarios: [loaded('uses-envoyfilter', [probe('ok')], { resources: [envoyFilter] })] }),
    });
  }
  test('JSON, console, JUnit and HTML state the release status and flag the Alpha feature', async () => {
    const r = await runWith('1.18.2');
    const json = JSON.parse(toJson(r));
    expect(json.istioRelease).toMatchObject({ version: '1.18.2', state: 'end-of-life' });
    expect(json.scenarios[0].features).toEqual([expect.objectContaining({ resource: 'EnvoyFilter app/lua', maturity: 'Alpha' })]);
    const text = finalReport(r, { color: false, verbose: false });
    expect(text).toContain('release: Istio 1.18 is no longer supported (end of life Jan 4, 2024)');
    expect(text).toContain('uses-envoyfilter: EnvoyFilter app/lua uses "Enabling custom filters in Envoy" (Alpha)');
    const junit = toJunit(r);
    expect(junit).toContain('name="istio.release" value="Istio 1.18 is no longer supported');
    expect(junit).toContain('name="istio.feature" value="EnvoyFilter app/lua: Enabling custom filters in Envoy (Alpha)"');
    const html = toHtml(r);
    expect(html).toContain('id="istio-release" data-state="end-of-life"');
    expect(html).toContain('EnvoyFilter app/lua uses “Enabling custom filters in Envoy”, Alpha');
  });
  test('a version newer than the table is reported as newer than known', async () => {
    expect((await runWith('1.30.0')).istioRelease?.state).toBe('newer-than-known');
  });
});
