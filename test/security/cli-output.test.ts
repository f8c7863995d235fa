/**
 * Output failures and output paths, through the built CLI in child processes: a reader that closes the pipe
 * after one line (`| head -1`), stdout on /dev/full, a full file system under a report, unusable or shared
 * report paths (refused before anything is deployed), and `render` names that would leave --out.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type StdioOptions } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labLeftovers } from '../targets/lab/helpers.js';
import { describeAsRoot, unprivilegedPrefix } from '../support/as-root.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/meshprobe.js');
const LABS = '/run/meshprobe/labs';
const built = existsSync(join(ROOT, 'dist/cli/main.js'));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Lab ids whose owner marker named this child while it ran. */
  labs: string[];
}

/** Lab ids currently owned by `pid` (owner.json holds the owning process). */
function labsOwnedBy(pid: number): string[] {
  if (!existsSync(LABS)) return [];
  return readdirSync(LABS).filter((id) => {
    try {
      return (JSON.parse(readFileSync(join(LABS, id, 'owner.json'), 'utf8')) as { pid: number }).pid === pid;
    } catch {
      return false;
    }
  });
}

/**
 * Runs the CLI. `stdout`: 'pipe' (collected), 'first-line' (the reader closes after one line, like `| head -1`)
 * or a file descriptor. Fails instead of hanging after `limitMs`.
 */
function cli(args: string[], o: { cwd: string; stdout?: 'pipe' | 'first-line' | number; cmd?: string[]; limitMs?: number }): Promise<Outcome> {
  const mode = o.stdout ?? 'pipe';
  const stdio: StdioOptions = ['ignore', typeof mode === 'number' ? mode : 'pipe', 'pipe'];
  const argv = o.cmd ?? [process.execPath, CLI];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], [...argv.slice(1), ...args], { cwd: o.cwd, stdio, env: { ...process.env, CI: 'true' } });
    const out = { stdout: '', stderr: '', labs: new Set<string>() };
    child.stderr?.on('data', (d) => (out.stderr += d));
    child.stdout?.on('data', (d) => {
      out.stdout += d;
      if (mode === 'first-line' && out.stdout.includes('\n')) child.stdout?.destroy();
    });
    const watch = setInterval(() => {
      if (child.pid) for (const id of labsOwnedBy(child.pid)) out.labs.add(id);
    }, 50);
    const limit = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meshprobe ${args.join(' ')} did not end within ${o.limitMs ?? 60_000} ms\n${out.stderr}`));
    }, o.limitMs ?? 60_000);
    watch.unref();
    limit.unref();
    child.on('exit', (code) => {
      clearInterval(watch);
      clearTimeout(limit);
      resolve({ code, stdout: out.stdout, stderr: out.stderr, labs: [...out.labs] });
    });
  });
}

const STACK = /^\s+at .+\(?.*:\d+:\d+\)?$/m;

function scenario(name: string): string {
  return `apiVersion: meshprobe.io/v1
kind: Scenario
metadata: {name: ${name}}
spec:
  namespaces: [{name: app}]
  workloads:
    - {name: server, namespace: app, ports: [{port: 8080, protocol: http}]}
    - {name: client, namespace: app}
  probes:
    - {name: ok, from: app/client, to: app/server, port: 8080, protocol: http, expect: {reach: true}}
`;
}

const WORKLOADS =
  'namespaces: [{name: app}]\nworkloads:\n  - {name: server, namespace: app, ports: [{port: 8080, protocol: http}]}\n  - {name: client, namespace: app}\n';

(built ? describe : describe.skip)('CLI output failures and paths', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp-cli-output-'));
    await writeFile(join(dir, 'a.yaml'), scenario('out-pipe-a'));
    await writeFile(join(dir, 'b.yaml'), scenario('out-pipe-b'));
    await writeFile(join(dir, 'w.yaml'), WORKLOADS);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  }, 180_000);

  describeAsRoot('as root', () =>
    it('run | head -1 on the lab: no stack trace, reports written, run status kept, no lab left', async () => {
      const r = await cli(['run', 'a.yaml', 'b.yaml', '--report-dir', 'pipe-reports'], { cwd: dir, stdout: 'first-line', limitMs: 120_000 });
      expect(r.stdout.split('\n')[0]).toMatch(/^meshprobe: 2 scenarios, 2 probes on target lab/);
      expect(r.stderr).not.toMatch(STACK);
      expect(r.stderr).toContain('meshprobe: could not write to stdout: EPIPE (the reader closed the pipe)');
      const report = JSON.parse(await readFile(join(dir, 'pipe-reports', 'report.json'), 'utf8')) as {
        exitStatus: number;
        summary: { scenarios: { PASS: number } };
      };
      expect(report.summary.scenarios.PASS).toBe(2);
      // EPIPE on stdout keeps the run's own status.
      expect(r.code).toBe(report.exitStatus);
      expect(r.code).toBe(0);
      expect(await readFile(join(dir, 'pipe-reports', 'junit.xml'), 'utf8')).toContain('<testsuite');
      expect(await readFile(join(dir, 'pipe-reports', 'report.html'), 'utf8')).toContain('<html');
      expect(r.labs.length).toBeGreaterThan(0); // the lab really came up while stdout was closed
      for (const id of r.labs) expect(labLeftovers(id)).toEqual([]);
    }, 150_000),
  );

  it('validate --json >/dev/full: one line naming ENOSPC, no stack trace, exit 2', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const json = await cli(['validate', '--json', 'a.yaml'], { cwd: dir, stdout: full });
      expect(json.stderr).toBe('meshprobe: could not write to stdout: ENOSPC (no space left on device); the rest of the output was dropped\n');
      expect(json.code).toBe(2);
      const text = await cli(['validate', 'a.yaml'], { cwd: dir, stdout: full });
      expect(text.stderr).not.toMatch(STACK);
      expect(text.code).toBe(2);
    } finally {
      closeSync(full);
    }
    // The same input with a working stdout is valid: the 2 above is the lost output, not the input.
    expect((await cli(['validate', 'a.yaml'], { cwd: dir })).code).toBe(0);
  }, 180_000);

  it('run --report-dir /proc/x: exit 2 at once, nothing deployed (it used to spin in mkdir after the run)', async () => {
    const r = await cli(['run', 'a.yaml', '--report-dir', '/proc/x'], { cwd: dir, limitMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('meshprobe run: --report-dir /proc/x: cannot create the directory /proc/x: ENOENT');
    expect(r.stderr).toContain('nothing was deployed');
    expect(r.stderr).not.toMatch(STACK);
    expect(r.labs).toEqual([]);
    expect(r.stdout).toBe('');
  }, 180_000);

  it('unusable report paths are refused before anything is deployed', async () => {
    await writeFile(join(dir, 'plain-file'), 'x');
    await mkdir(join(dir, 'shared'), { recursive: true });
    await symlink(join(dir, 'shared', 'report.json'), join(dir, 'alias.json'));
    const cases: Array<[string[], string]> = [
      [['--json', 'F', '--junit', 'F'], '--junit F: is the same file as --json F'],
      [['--report-dir', 'shared', '--html', 'alias.json'], '--html alias.json: is the same file as --report-dir shared/report.json'],
      [['--report-dir', 'shared', '--html', 'no-such/../shared/report.json'], 'is the same file as --report-dir shared/report.json'],
      [['--report-dir', 'plain-file'], '--report-dir plain-file: cannot create the directory'],
      [['--json', '/dev/null'], '--json /dev/null: exists and is not a regular file'],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['run', 'a.yaml', ...args], { cwd: dir });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(STACK);
      expect(r.labs).toEqual([]);
    }
    expect(existsSync(join(dir, 'F'))).toBe(false);
    expect(existsSync(join(dir, 'shared', 'report.json'))).toBe(false);
  }, 180_000);

  describeAsRoot('as root', () =>
    it('a report directory the user cannot write (uid 65534, or root without its permission overrides): exit 2 before deploying', async () => {
      await mkdir(join(dir, 'root-owned'), { mode: 0o555 });
      const r = await cli(['run', join(dir, 'a.yaml'), '--report-dir', join(dir, 'root-owned', 'sub')], {
        cwd: '/',
        cmd: [...unprivilegedPrefix(CLI), process.execPath, CLI],
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('EACCES (permission denied)');
      expect(r.stderr).not.toMatch(STACK);
    }, 180_000),
  );

  it('matrix, diff and audit check their output paths before doing anything', async () => {
    const matrix = await cli(['matrix', '--workloads', 'w.yaml', '--json', 'm.json', '--html', './m.json'], { cwd: dir });
    expect(matrix.code).toBe(2);
    expect(matrix.stderr).toContain('meshprobe matrix: --html ./m.json: is the same file as --json m.json');
    expect(matrix.labs).toEqual([]);
    const diff = await cli(['diff', '--before', '.', '--after', '.', '--workloads', 'w.yaml', '--markdown', '/proc/x/pr.md'], { cwd: dir });
    expect(diff.code).toBe(2);
    expect(diff.stderr).toContain('meshprobe diff: --markdown /proc/x/pr.md: cannot create the directory /proc/x');
    const audit = await cli(['audit', '--workloads', 'w.yaml', '--json', dir], { cwd: dir });
    expect(audit.code).toBe(2);
    expect(audit.stderr).toContain('exists and is not a regular file');
    expect(audit.labs).toEqual([]);
    for (const r of [matrix, diff, audit]) expect(r.stderr).not.toMatch(STACK);
  }, 180_000);

  it('matrix --predict-only >/dev/full still writes its files, names the lost stdout, exit 2', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = await cli(['matrix', '--predict-only', '--workloads', 'w.yaml', '--json', 'full-m.json', '--html', 'full-m.html'], {
        cwd: dir,
        stdout: full,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('could not write to stdout: ENOSPC');
      expect(JSON.parse(await readFile(join(dir, 'full-m.json'), 'utf8'))).toHaveProperty('cells');
      expect(await readFile(join(dir, 'full-m.html'), 'utf8')).toContain('<html');
    } finally {
      closeSync(full);
    }
  }, 180_000);

  describeAsRoot('as root', () =>
    it('a report on a full file system: the other report is written, the partial one removed, exit 2', async () => {
      const mnt = join(dir, 'full-fs');
      await mkdir(mnt);
      await mkdir(join(dir, 'fine'));
      // A private mount namespace: the small tmpfs disappears with the process and is never visible to the host.
      const script =
        'mount -t tmpfs -o size=64k tmpfs "$1" || exit 99; head -c 1048576 /dev/zero > "$1/fill" 2>/dev/null; "$2" "$3" matrix --predict-only --workloads w.yaml --json "$1/m.json" --html fine/m.html; rc=$?; ls -A "$1" >&2; exit $rc';
      const r = await cli([], {
        cwd: dir,
        cmd: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', mnt, process.execPath, CLI],
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`meshprobe matrix: could not write --json ${mnt}/m.json: ENOSPC (no space left on device)`);
      expect(r.stderr.trim().split('\n').pop()).toBe('fill'); // no truncated m.json left beside it
      expect(r.stderr).not.toMatch(STACK);
      expect(r.stdout).toContain('wrote fine/m.html');
      expect(await readFile(join(dir, 'fine', 'm.html'), 'utf8')).toContain('<html');
    }, 180_000),
  );
});
