/**
 * The dependency rule (docs/architecture.md) as dependency-cruiser checks it with the repository's
 * .dependency-cruiser.cjs: the sources keep it, and the same configuration catches each kind of violation in a
 * miniature tree (fixtures/layering) — so a rule that silently stopped matching would fail here too.
 */
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const FIXTURE = join(ROOT, 'test/architecture/fixtures/layering');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}
interface Cruise {
  /** 0 with the json reporter whatever it found; `npm run check:deps` uses the err reporter, whose exit status counts errors. */
  exitCode: number;
  violations: Violation[];
  modules: number;
}

function depcruise(cwd: string, outputType: 'json' | 'err'): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [DEPCRUISE, '--config', CONFIG, '--output-type', outputType, 'src'],
      { cwd, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ exitCode: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** Runs depcruise in `cwd` over its src/ (rule paths are relative to where it runs) and returns what it found. */
async function cruise(cwd: string): Promise<Cruise> {
  const { stdout, stderr, exitCode } = await depcruise(cwd, 'json');
  try {
    const out = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
    return { exitCode, violations: out.summary.violations, modules: out.summary.totalCruised };
  } catch {
    throw new Error(`depcruise did not print a JSON report (exit ${exitCode}): ${stderr || stdout}`);
  }
}

const line = (v: Violation) => `${v.rule.name}: ${v.from} → ${v.to.replace(/^.*?node_modules\//, 'node_modules/')}`;

describe('the dependency rule', () => {
  test('holds for src/', async () => {
    const r = await cruise(ROOT);
    expect(r.violations.map(line)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.modules).toBeGreaterThan(100);
  }, 180_000);

  test('fails on a deliberate violation of each rule, and only there', async () => {
    const r = await cruise(FIXTURE);
    expect(r.violations.map(line).sort()).toEqual(
      [
        'agent-imports-no-package: src/agent/breaks-imports-package.ts → node_modules/semver/index.js',
        'agent-imports-only-itself: src/agent/breaks-imports-model.ts → src/model/ok-pure.ts',
        'cli-command-imports-no-command: src/cli/breaks-beta.ts → src/cli/main.ts',
        'cli-command-imports-no-command: src/cli/breaks-beta.ts → src/cli/ok-alpha.ts',
        'engine-uses-target-interface-only: src/engine/breaks-imports-lab.ts → src/targets/lab/internal.ts',
        'library-imports-no-cli: src/report/breaks-imports-cli.ts → src/cli/common.ts',
        'model-imports-no-target: src/model/breaks-imports-target.ts → src/targets/lab/internal.ts',
        'not-to-unresolvable: src/model/breaks-unresolvable.ts → ./does-not-exist.js',
        'predict-uses-target-interface-only: src/predict/breaks-type-from-lab.ts → src/targets/lab/internal.ts',
        'scenario-imports-no-target: src/scenario/breaks-imports-target.ts → src/targets/target.ts',
        'src-imports-no-test: src/model/breaks-imports-test.ts → test/helper.ts',
      ].sort(),
    );
  }, 180_000);

  test('`npm run check:deps` (the err reporter) exits non-zero on those violations', async () => {
    const r = await depcruise(FIXTURE, 'err');
    expect(r.exitCode).toBe(11);
    expect(r.stdout).toContain('11 dependency violations');
  }, 180_000);
});
