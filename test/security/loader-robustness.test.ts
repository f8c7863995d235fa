/**
 * The loader survives hostile files: alias bombs, unresolved aliases, deep nesting, huge and non-UTF-8 files,
 * FIFOs, unreadable directories and symbolic-link loops each end in an error about that file (with a position
 * where there is one) while the other files are still checked, and `validate --json` still prints its report.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicies } from '../../src/predict/inputs.js';
import { formatError, loadScenarios } from '../../src/scenario/loader.js';
import { MAX_FILE_BYTES } from '../../src/scenario/source.js';
import { unprivilegedPrefix } from '../support/as-root.js';

const MINIMAL = readFileSync('test/fixtures/scenarios/valid/minimal.yaml', 'utf8');
let dir: string;

/** 9 levels of 10 aliases inside a resource's spec: 10^9 nodes once expanded, 1 KB of text. */
function aliasBomb(levels: number, name = 'bomb'): string {
  const s = MINIMAL.replace('name: minimal', `name: ${name}`).replace(
    '  probes:',
    `  resources:
    - apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: x}
      spec:
        a0: &a0 [lol]
${Array.from({ length: levels }, (_, i) => `        a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(',')}]`).join('\n')}
  probes:`,
  );
  return s;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshprobe-robust-'));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string | Buffer): string {
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

describe('YAML limits', () => {
  it.each([9, 10])('an alias bomb of %i levels of 10 aliases ends in an error at the alias that crosses the limit', async (levels) => {
    const file = write(`bomb-${levels}.yaml`, aliasBomb(levels));
    const r = await loadScenarios([file, 'test/fixtures/scenarios/valid/minimal.yaml']);
    expect(r.errors.map(formatError)).toEqual([
      expect.stringMatching(new RegExp(`^${file}:3[0-9]:\\d+: alias \\*a\\d makes the document expand to more than 200000 nodes`)),
    ]);
    expect(r.scenarios.map((s) => s.scenario.metadata.name)).toEqual(['minimal']);
  });

  it('an unresolved alias is an error at its position, not an exception', async () => {
    const file = write('nope.yaml', MINIMAL.replace('kind: Scenario', 'kind: *nope'));
    expect((await loadScenarios([file])).errors.map(formatError)).toEqual([`${file}:3:7: unresolved alias *nope: no anchor &nope before it`]);
  });

  it('many honest aliases are fine (no arbitrary alias count)', async () => {
    const probes = Array.from(
      { length: 150 },
      (_, i) => `    - {name: p${i}, from: legacy/client, to: app/server, port: 8080, protocol: http, expect: *reach}`,
    ).join('\n');
    const text = MINIMAL.replace(
      / {2}probes:[\s\S]*$/,
      `  probes:\n    - {name: first, from: legacy/client, to: app/server, port: 8080, protocol: http, expect: &reach {reach: true}}\n${probes}\n`,
    );
    const r = await loadScenarios([write('aliases.yaml', text)]);
    expect(r.errors).toEqual([]);
    expect(r.scenarios[0].scenario.spec.probes).toHaveLength(151);
  });

  it('deep nesting is refused with a position', async () => {
    const deep = `${'['.repeat(200)}${']'.repeat(200)}`;
    const file = write('deep.yaml', MINIMAL.replace('  probes:', `  resources:\n    - ${deep}\n  probes:`));
    const errors = (await loadScenarios([file])).errors.map(formatError);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^${file}:\\d+:\\d+: `));
  });

  it('a duplicate key is an error at the second key', async () => {
    const file = write('dup-key.yaml', MINIMAL.replace('  name: minimal\n', '  name: minimal\n  name: again\n'));
    expect((await loadScenarios([file])).errors.map(formatError)).toEqual([`${file}:6:3: duplicate key "name" (keys of a mapping must be unique)`]);
  });

  it('reports 40,000 unknown keys (390 KB) all, with positions', async () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: v\n`).join('');
    const file = write('unknown-keys.yaml', MINIMAL.replace('metadata:\n  name: minimal\n', `metadata:\n  name: minimal\n${keys}`));
    const r = await loadScenarios([file]);
    expect(r.errors).toHaveLength(40_000);
    expect(formatError(r.errors[39_999])).toBe(`${file}:40005:3: metadata.k39999: unknown field "k39999"`);
  });
});

describe('files', () => {
  it('refuses a file over the size limit without reading it', async () => {
    const file = write('huge.yaml', `# ${'x'.repeat(MAX_FILE_BYTES)}\n`);
    expect((await loadScenarios([file])).errors.map(formatError)).toEqual([
      `${file}: file is ${MAX_FILE_BYTES + 3} bytes; the limit is ${MAX_FILE_BYTES} (2 MiB)`,
    ]);
  });

  it('names the first byte that is not UTF-8 by line and column', async () => {
    const text = Buffer.from(MINIMAL.replace('name: minimal', 'name: minimal\n  title: caf\u00e9 XY'));
    const at = text.indexOf('XY');
    text[at] = 0xff;
    const file = write('latin1.yaml', text);
    expect((await loadScenarios([file])).errors.map(formatError)).toEqual([`${file}:6:15: not valid UTF-8 (byte 0xff); save the file as UTF-8`]);
  });

  it('follows symbolic links to files and directories (each read once) and reports loops and broken links', async () => {
    const root = join(dir, 'links');
    write('links/real/a.yaml', MINIMAL.replace('name: minimal', 'name: via-dir'));
    write('elsewhere/b.yaml', MINIMAL.replace('name: minimal', 'name: via-file'));
    symlinkSync(join(dir, 'elsewhere/b.yaml'), join(root, 'b.yaml'));
    symlinkSync(join(root, 'real'), join(root, 'linked-dir'));
    symlinkSync(root, join(root, 'real/loop'));
    symlinkSync(join(root, 'gone.yaml'), join(root, 'broken.yaml'));
    symlinkSync(join(root, 'self1.yaml'), join(root, 'self2.yaml'));
    symlinkSync(join(root, 'self2.yaml'), join(root, 'self1.yaml'));
    const r = await loadScenarios([root]);
    expect(r.scenarios.map((s) => s.scenario.metadata.name).sort()).toEqual(['via-dir', 'via-file']);
    expect(r.errors.map(formatError)).toEqual([
      `${join(root, 'broken.yaml')}: skipped: broken symbolic link`,
      `${join(root, 'linked-dir/loop')}: skipped: symbolic link loop (points back to ${root})`,
      `${join(root, 'self1.yaml')}: skipped: symbolic link loop`,
      `${join(root, 'self2.yaml')}: skipped: symbolic link loop`,
    ]);
  });

  it('does not block on a FIFO named like a scenario', async () => {
    const fifo = join(dir, 'fifo/pipe.yaml');
    mkdirSync(join(dir, 'fifo'));
    execFileSync('mkfifo', [fifo]);
    const r = await loadScenarios([join(dir, 'fifo'), fifo]);
    expect(r.errors.map(formatError)).toEqual([`${fifo}: not a regular file (skipped)`, `${fifo}: not a file or directory`]);
  });

  it('a policies directory with a bad file still checks the others', async () => {
    write('policies/a.yaml', 'kind: *nope\n');
    write(
      'policies/b.yaml',
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ok, namespace: app}\nspec: {podSelector: {}, ingress: [{ports: [{port: 0}]}]}\n',
    );
    const r = await loadPolicies(join(dir, 'policies'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toEqual([
        `${join(dir, 'policies/a.yaml')}:1:7: unresolved alias *nope: no anchor &nope before it`,
        `${join(dir, 'policies/b.yaml')}:4:51: spec.ingress[0].ports[0].port: must be a port from 1 to 65535 (got 0)`,
      ]);
    }
  });
});

describe('meshprobe validate --json with broken files', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.build.json'], { stdio: 'ignore' });
  }, 120_000);

  it('still prints its report, each failure tied to its file, and exits 2', () => {
    const root = join(dir, 'cli');
    write('cli/bomb.yaml', aliasBomb(10, 'bomb'));
    write('cli/nope.yaml', 'kind: *nope\n');
    write('cli/ok.yaml', MINIMAL);
    write('cli/sub/inner.yaml', MINIMAL.replace('name: minimal', 'name: inner'));
    write('cli/secret.yaml', MINIMAL.replace('name: minimal', 'name: secret'));
    chmodSync(join(root, 'sub'), 0o000);
    chmodSync(join(root, 'secret.yaml'), 0o000);
    // As root, mode 000 hides nothing: run without root's permission overrides then (as nobody where it can reach
    // this checkout, else as root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH).
    const asNobody = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
    const argv = [join(process.cwd(), 'bin/meshprobe.js'), 'validate', '--json', root];
    const r = asNobody
      ? (([cmd, ...pre]) => spawnSync(cmd!, [...pre, process.execPath, ...argv], { encoding: 'utf8' }))(unprivilegedPrefix(argv[0]!))
      : spawnSync(process.execPath, argv, { encoding: 'utf8' });
    chmodSync(join(root, 'sub'), 0o755);
    chmodSync(join(root, 'secret.yaml'), 0o644);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(2);
    const report = JSON.parse(r.stdout) as { documents: Array<{ file: string; valid: boolean; errors: string[] }>; errors: string[] };
    const unreadable = asNobody || process.getuid?.() !== 0;
    expect(report.documents.map((d) => [d.file.slice(root.length + 1), d.valid])).toEqual([
      ['bomb.yaml', false],
      ['nope.yaml', false],
      ['ok.yaml', true],
      ...(unreadable
        ? []
        : [
            ['secret.yaml', true],
            ['sub/inner.yaml', true],
          ]),
    ]);
    expect(report.documents[1].errors).toEqual([`${join(root, 'nope.yaml')}:1:7: unresolved alias *nope: no anchor &nope before it`]);
    if (unreadable) {
      expect(report.errors).toEqual([
        `${join(root, 'sub')}: cannot read directory: permission denied`,
        `${join(root, 'secret.yaml')}: cannot read: permission denied`,
      ]);
    }
  });
});
