/**
 * `render` writes only inside --out: names from the input that would leave it are refused before anything is
 * written, symlinks inside --out are not followed, and nothing appears anywhere else.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { renderRun } from '../../src/targets/kind/render-run.js';
import { strictMtls } from '../targets/k8s/fixtures.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const built = existsSync(join(ROOT, 'dist/cli/main.js'));

/** Every file under dir, relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p, base) : [relative(base, p)];
  });
}

function withName(name: string): string {
  return `apiVersion: meshprobe.io/v1
kind: Scenario
metadata: {name: trav}
spec:
  namespaces: [{name: app}]
  workloads:
    - {name: server, namespace: app, ports: [{port: 8080, protocol: http}]}
    - {name: client, namespace: app}
  resources:
    - apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata: {name: ${JSON.stringify(name)}, namespace: app}
      spec: {}
  probes:
    - {name: ok, from: app/client, to: app/server, port: 8080, protocol: http, expect: {reach: true}}
`;
}

describe('render output paths', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp-render-paths-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  (built ? it : it.skip)(
    'the CLI refuses a metadata.name that climbs out of --out; no file is written anywhere',
    async () => {
      // Two CLI runs (each starts node and loads the cluster code): the name from the issue, and one deep enough
      // to leave the temporary directory altogether. Other shapes are covered through renderRun below.
      for (const [i, name] of ['../../../../x', '../../../../../../../../x'].entries()) {
        const case_ = join(dir, `cli-${i}`);
        await mkdir(join(case_, 'a', 'b', 'c'), { recursive: true });
        await writeFile(join(case_, 'trav.yaml'), withName(name));
        const r = await promisify(execFile)(process.execPath, [join(ROOT, 'bin/meshprobe.js'), 'render', '--out', 'a/b/c/out', 'trav.yaml'], {
          cwd: case_,
        }).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
        );
        expect({ name, code: r.code }).toEqual({ name, code: 2 });
        expect(r.stderr).not.toMatch(/^\s+at /m);
        // Only the scenario file: no x.yaml beside it, in a/b/c, or in a created --out.
        expect(walk(case_)).toEqual(['trav.yaml']);
      }
      expect(walk(dir).filter((f) => f.endsWith('x.yaml'))).toEqual([]);
    },
    300_000,
  );

  it('renderRun refuses a resource name that is not a plain file name even when the schema let it through', async () => {
    const s = strictMtls();
    s.spec.resources[0].metadata.name = '../../../../escaped';
    const out = join(dir, 'direct', 'out');
    await expect(renderRun([s], { outDir: out, runId: 'rp1' })).rejects.toThrow(
      /AuthorizationPolicy metadata.name "..\/..\/..\/..\/escaped" cannot name a file|metadata.name "..\/..\/..\/..\/escaped" cannot name a file/,
    );
    expect(existsSync(join(dir, 'direct'))).toBe(false);
  });

  it('renderRun refuses other names that are not one plain segment ("a/b", "..", ".hidden")', async () => {
    for (const name of ['a/b', '..', '.hidden']) {
      const s = strictMtls();
      s.spec.resources[0].metadata.name = name;
      await expect(renderRun([s], { outDir: join(dir, 'shapes'), runId: 'rp5' })).rejects.toThrow('cannot name a file');
    }
    expect(existsSync(join(dir, 'shapes'))).toBe(false);
  });

  it('a symlinked directory inside --out is not followed', async () => {
    const out = join(dir, 'linked-out');
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(out);
    await mkdir(elsewhere);
    await symlink(elsewhere, join(out, 'default'));
    await expect(renderRun([strictMtls()], { outDir: out, runId: 'rp2' })).rejects.toThrow('default inside');
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('a symlinked file inside --out is not written through', async () => {
    const out = join(dir, 'file-link-out');
    const victim = join(dir, 'victim');
    await writeFile(victim, 'unchanged');
    await mkdir(out);
    await symlink(victim, join(out, 'commands.sh'));
    await expect(renderRun([strictMtls()], { outDir: out, runId: 'rp3' })).rejects.toThrow(/ELOOP/);
    expect(await (await import('node:fs/promises')).readFile(victim, 'utf8')).toBe('unchanged');
  });

  it('a normal render still writes everything inside --out', async () => {
    const out = join(dir, 'normal');
    const r = await renderRun([strictMtls()], { outDir: out, runId: 'rp4' });
    expect(walk(out).sort()).toEqual([...r.files].sort());
  });
});
