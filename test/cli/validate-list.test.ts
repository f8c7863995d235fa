/** The validate and list commands as a user runs them: the built bin, real exit codes, no stack traces. */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';

function meshprobe(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/meshprobe.js', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, all: r.stdout + r.stderr };
}

const NO_STACK = /\n\s+at .+:\d+:\d+\)?\n|Error:/;

beforeAll(() => {
  // Incremental: a no-op when dist/ is current.
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.build.json'], { stdio: 'ignore' });
}, 120_000);

describe('meshprobe validate', () => {
  it('validates scenarios/ by default and exits 0', () => {
    const r = meshprobe('validate');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('ok      scenarios/examples/strict-rejects-plaintext.yaml:2 strict-rejects-plaintext\n');
  });

  it('prints each invalid document with its errors and exits 2', () => {
    const file = 'test/fixtures/scenarios/invalid/resource-unknown-field.yaml';
    const r = meshprobe('validate', file, 'test/fixtures/scenarios/valid/minimal.yaml');
    expect(r.status).toBe(2);
    expect(r.stdout.split('\n')).toEqual([
      `INVALID ${file}:2 resource-unknown-field (1 error)`,
      `  ${file}:27:9: spec.resources[0].spec.rule: unknown field "rule" (did you mean "rules"?)`,
      'ok      test/fixtures/scenarios/valid/minimal.yaml:2 minimal',
      '2 scenario documents checked, 1 invalid',
      '',
    ]);
    expect(r.all).not.toMatch(NO_STACK);
  });

  it('exits 2 without a stack trace for a missing path, YAML syntax errors and every invalid fixture', () => {
    const r = meshprobe('validate', 'no/such/dir', 'test/fixtures/scenarios/invalid');
    expect(r.status).toBe(2);
    expect(r.stdout).toContain('error   no/such/dir: no such file or directory\n');
    expect(r.stdout).toContain('test/fixtures/scenarios/invalid/yaml-tab-indentation.yaml:20:1: Tabs are not allowed as indentation');
    expect(r.all).not.toMatch(NO_STACK);
  });

  it('prints JSON with --json', () => {
    const r = meshprobe('validate', '--json', 'test/fixtures/scenarios/invalid/no-positive-control.yaml');
    expect(r.status).toBe(2);
    const report = JSON.parse(r.stdout) as { valid: boolean; documents: Array<{ name: string; valid: boolean; errors: string[] }> };
    expect(report.valid).toBe(false);
    expect(report.documents).toHaveLength(1);
    expect(report.documents[0].errors[0]).toMatch(/no-positive-control.yaml:22:5: spec.probes: no positive control/);
  });
});

describe('meshprobe list', () => {
  it('lists name, targets, tags, title and claim', () => {
    const r = meshprobe('list', 'test/fixtures/scenarios/valid/multi-document.yaml');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('multi-document  targets: kind, existing  istio >=1.13\n');
    expect(r.stdout).toContain('multi-document-second  targets: lab, kind, existing\n');
  });

  it('prints JSON with --json, and exits 2 (errors on stderr) when something is invalid', () => {
    const r = meshprobe('list', '--json', 'scenarios/examples', 'test/fixtures/scenarios/invalid/bad-enum.yaml');
    expect(r.status).toBe(2);
    const entries = JSON.parse(r.stdout) as Array<{ name: string; tags: string[]; targets: string[]; claim: string }>;
    expect(entries.map((e) => [e.name, e.tags, e.targets])).toEqual([
      ['strict-rejects-plaintext', ['mtls', 'peer-authentication'], ['lab', 'kind', 'existing']],
    ]);
    expect(r.stderr).toContain('bad-enum.yaml:26:17: spec.probes[0].protocol: must be one of');
    expect(r.all).not.toMatch(NO_STACK);
  });
});
