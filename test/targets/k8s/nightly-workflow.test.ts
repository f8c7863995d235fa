/**
 * The nightly workflow (issue 18, defects 1 and 7, and its acceptance): it builds the agent bundle before
 * `meshprobe up`, passes its profile to both `up` and `run`, and each profile's job selects exactly the built-in
 * scenarios that profile serves, so no job is red for scenarios only another profile can run and none is dropped
 * without the reason kind refuses it.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import YAML from 'yaml';
import { compileFilters, select } from '../../../src/engine/plan.js';
import { loadScenarios } from '../../../src/scenario/loader.js';
import { loadProfile, PROFILE_NAMES, profileFor, profileSatisfies } from '../../../src/targets/kind/profiles.js';

interface Workflow {
  jobs: { kind: { strategy: { matrix: { include: Array<{ profile: string; select: string }> } }; steps: Array<{ run?: string }> } };
}
const workflow = YAML.parse(readFileSync('.github/workflows/nightly.yml', 'utf8')) as Workflow;
const job = workflow.jobs.kind;
const runs = job.steps.map((s) => s.run ?? '');

describe('nightly workflow', () => {
  test('builds the agent bundle before `up`, and passes the matrix profile to `up` and `run`', () => {
    const bundle = runs.findIndex((r) => /node scripts\/bundle-agent\.mjs/.test(r));
    const up = runs.findIndex((r) => /meshprobe\.js up --profile "\$\{\{ matrix\.profile \}\}"/.test(r));
    const run = runs.findIndex((r) => /meshprobe\.js run --target kind --profile "\$\{\{ matrix\.profile \}\}" .*\$\{\{ matrix\.select \}\}/.test(r));
    expect(bundle).toBeGreaterThanOrEqual(0);
    expect(up).toBeGreaterThan(bundle);
    expect(run).toBeGreaterThan(up);
  });

  test('every profile has a job, and each job selects exactly the built-in scenarios its profile can run', async () => {
    const jobs = job.strategy.matrix.include;
    expect(jobs.map((j) => j.profile).sort()).toEqual([...PROFILE_NAMES].sort());
    const loaded = await loadScenarios(['scenarios']);
    expect(loaded.errors).toEqual([]);
    const runsIn = new Map<string, string[]>();
    for (const j of jobs) {
      const patterns = [...j.select.matchAll(/-s '([^']*)'/g)].map((m) => m[1]);
      expect(patterns.length).toBeGreaterThan(0);
      const { filters, errors } = compileFilters('--scenario', patterns);
      expect(errors).toEqual([]);
      const features = (await loadProfile(j.profile)).features;
      for (const l of select(loaded.scenarios, { scenario: filters, tag: { include: [], exclude: [] } })) {
        // nothing a job selects is refused by its profile (which would make the job ERROR)
        expect([l.scenario.metadata.name, profileSatisfies(features, l.scenario)]).toEqual([l.scenario.metadata.name, undefined]);
        runsIn.set(l.scenario.metadata.name, [...(runsIn.get(l.scenario.metadata.name) ?? []), j.profile]);
      }
    }
    for (const l of loaded.scenarios) {
      const s = l.scenario;
      const own = profileFor(s);
      const refused = profileSatisfies((await loadProfile(own)).features, s);
      // each scenario runs in its own profile's job only, unless kind cannot run it at all (then the reason is known)
      expect([s.metadata.name, runsIn.get(s.metadata.name) ?? []]).toEqual([s.metadata.name, refused ? [] : [own]]);
    }
  });
});
