/**
 * The built-in suite (scenarios/istio-security-best-practices) as the suite tests see it: its files parsed as
 * plain scenario objects (so a mutation edits exactly what a user would edit in the YAML), which of them the lab
 * can run, and how to write a changed copy to a temporary directory for `run()`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { ScenarioInput } from '../../src/scenario/schema.js';

export const SUITE_DIR = 'scenarios/istio-security-best-practices';

export interface SuiteFile {
  file: string;
  scenario: ScenarioInput;
}

/** Every scenario file of the suite (one scenario per file, as the suite is written). */
export function suiteFiles(): SuiteFile[] {
  return readdirSync(SUITE_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ file: f, scenario: parse(readFileSync(join(SUITE_DIR, f), 'utf8')) as ScenarioInput }));
}

/** A scenario is lab-capable unless its `when.targets` leaves the lab out. */
export function labCapable(s: ScenarioInput): boolean {
  const targets = s.spec.when?.targets;
  return targets === undefined || targets.includes('lab');
}

/** Writes scenarios into a fresh temporary directory; `remove()` deletes it. */
export function writeTemp(scenarios: ScenarioInput[]): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'meshprobe-suite-'));
  for (const s of scenarios) writeFileSync(join(dir, `${s.metadata.name}.yaml`), stringify(s));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
