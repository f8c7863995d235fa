/**
 * The fixture corpus: every file under test/fixtures/scenarios/invalid/ states, in trailing `# expect:` comments,
 * the exact errors (line:col: field: message) the loader must report for it — all of them, nothing more.
 * Every file under valid/ must load without errors.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenarios } from '../../src/scenario/loader.js';

const DIR = 'test/fixtures/scenarios';
const invalid = readdirSync(join(DIR, 'invalid'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const valid = readdirSync(join(DIR, 'valid'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function expectations(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('# expect: '))
    .map((l) => l.slice('# expect: '.length));
}

describe('invalid scenario fixtures', () => {
  it('has a corpus of at least 25 files', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(25);
  });

  it.each(invalid)('%s: reports exactly the expected errors', async (name) => {
    const file = join(DIR, 'invalid', name);
    const want = expectations(file);
    expect(want.length).toBeGreaterThan(0);
    const result = await loadScenarios([file]);
    const got = result.errors.map((e) => `${e.line}:${e.col}: ${e.path ? `${e.path}: ` : ''}${e.message}`);
    expect(got).toEqual(want);
    expect(result.errors.every((e) => e.file === file)).toBe(true);
  });
});

describe('valid scenario fixtures', () => {
  it.each(valid)('%s: loads without errors', async (name) => {
    const result = await loadScenarios([join(DIR, 'valid', name)]);
    expect(result.errors).toEqual([]);
    expect(result.scenarios.length).toBeGreaterThan(0);
  });
});
