/**
 * The built-in suite must be able to fail: each lab-capable scenario, with its key policy line removed or
 * inverted (MUTATIONS), runs on the lab and must come out FAIL — a stable mismatch, not ERROR. The mutated
 * scenarios run in one `run()` (several deployed at once) with one observation per probe. Needs root.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { run } from '../../src/engine/run.js';
import type { RunResult } from '../../src/engine/types.js';
import type { ScenarioInput } from '../../src/scenario/schema.js';
import { MUTATIONS } from './mutations.js';
import { labCapable, suiteFiles, writeTemp } from './suite.js';
import { describeAsRoot } from '../support/as-root.js';

const files = suiteFiles();
const capable = files
  .filter((f) => labCapable(f.scenario))
  .map((f) => f.scenario.metadata.name)
  .sort();

function mutated(): ScenarioInput[] {
  return files
    .filter((f) => labCapable(f.scenario))
    .map((f) => {
      const copy = structuredClone(f.scenario);
      MUTATIONS[copy.metadata.name]?.apply(copy);
      return copy;
    });
}

describe('mutation table', () => {
  test('covers every lab-capable scenario of the suite and nothing else', () => {
    expect(capable.length).toBeGreaterThanOrEqual(14);
    expect(Object.keys(MUTATIONS).sort()).toEqual(capable);
  });

  test('names only probes that exist in its scenario', () => {
    for (const f of files.filter((x) => labCapable(x.scenario))) {
      const probes = (f.scenario.spec.probes ?? []).map((p) => p.name);
      const fails = MUTATIONS[f.scenario.metadata.name]?.fails ?? [];
      expect({ scenario: f.scenario.metadata.name, unknown: fails.filter((n) => !probes.includes(n)), none: fails.length === 0 }).toEqual({
        scenario: f.scenario.metadata.name,
        unknown: [],
        none: false,
      });
    }
  });

  test('every mutation changes its scenario', () => {
    for (const s of mutated()) {
      const original = files.find((f) => f.scenario.metadata.name === s.metadata.name)?.scenario;
      expect({ name: s.metadata.name, changed: JSON.stringify(s) !== JSON.stringify(original) }).toEqual({ name: s.metadata.name, changed: true });
    }
  });
});

describeAsRoot('mutated suite on the lab', () => {
  let result: RunResult;
  let remove = () => {};

  beforeAll(async () => {
    const temp = writeTemp(mutated());
    remove = temp.remove;
    result = await run({ paths: [temp.dir], target: 'lab', consecutive: 1, settleTimeoutMs: 300, parallel: 4 });
  }, 240_000);

  afterAll(() => remove());

  test('nothing was invalid and every mutated scenario ran', () => {
    expect(result.inputErrors).toEqual([]);
    expect(result.scenarios.map((s) => s.name).sort()).toEqual(capable);
  });

  test.each(Object.entries(MUTATIONS))('%s FAILs when mutated', (name, mutation) => {
    const s = result.scenarios.find((x) => x.name === name);
    const failed =
      s?.probes
        .filter((p) => p.verdict === 'FAIL')
        .map((p) => p.name)
        .sort() ?? [];
    const errors = s?.probes.filter((p) => p.verdict === 'ERROR' || p.verdict === 'FLAKY').map((p) => `${p.name}: ${p.verdict} ${p.reason}`);
    expect({ scenario: name, mutation: mutation.what, verdict: s?.verdict, failed, errors }).toEqual({
      scenario: name,
      mutation: mutation.what,
      verdict: 'FAIL',
      failed: [...mutation.fails].sort(),
      errors: [],
    });
  });
});
