/**
 * The minimal scenario of a finding (pure): only the probe, its positive control, the endpoints they name and the
 * manifests whose removal changes the model's decision; it validates and is smaller than the original. commands.sh
 * quotes every value from the scenario so hostile names cannot run anything; output never follows symlinks.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { commandsScript, curlArgs, shq } from '../../src/findings/commands.js';
import { code } from '../../src/findings/markdown.js';
import { minimize, sizeOf } from '../../src/findings/minimize.js';
import { OutputError, prepareDir, writeInside } from '../../src/findings/output.js';
import { loadScenarios } from '../../src/scenario/loader.js';
import type { Scenario } from '../../src/scenario/schema.js';

const FIXTURE = 'test/findings/fixtures/bypass.yaml';

async function fixture(): Promise<Scenario> {
  const loaded = await loadScenarios([FIXTURE]);
  expect(loaded.errors).toEqual([]);
  return loaded.scenarios[0].scenario;
}

describe('minimize', () => {
  test('keeps the probe, a positive control between the same endpoints and only the deciding policy', async () => {
    const s = await fixture();
    const m = minimize(s, 'dot-segments');
    expect(m.scenario.spec.probes.map((p) => p.name)).toEqual(['dot-segments', 'public']);
    expect(m.scenario.spec.workloads.map((w) => `${w.namespace}/${w.name}`)).toEqual(['app/client', 'app/web']);
    expect(m.scenario.spec.namespaces.map((n) => n.name)).toEqual(['app']);
    expect(m.scenario.spec.resources.map((r) => r.metadata.name)).toEqual(['web-public-only']);
    expect(m.scenario.spec.mesh?.pathNormalization).toBe('NONE');
    expect(m.notes.join('\n')).toMatch(/db-from-app dropped/);
    expect(sizeOf(m.scenario)).toBeLessThan(sizeOf(s));
    // the model's decision is unchanged: under NONE the raw dot segments match /public* and get through
    expect(m.prediction?.reach).toBe(true);
  });

  test('the minimal scenario validates as a file', async () => {
    const m = minimize(await fixture(), 'dot-segments');
    const dir = mkdtempSync(join(tmpdir(), 'mp-min-'));
    writeFileSync(join(dir, 's.yaml'), stringify(m.scenario));
    const loaded = await loadScenarios([join(dir, 's.yaml')]);
    expect(loaded.errors).toEqual([]);
    expect(loaded.scenarios[0].scenario.metadata.name).toBe('public-prefix-bypass-dot-segments');
  });

  test('a probe whose decision needs a policy in another namespace keeps that namespace and policy', async () => {
    const m = minimize(await fixture(), 'db-from-other');
    expect(m.scenario.spec.resources.map((r) => r.metadata.name)).toEqual(['default', 'db-from-app']); // the explanation names the STRICT PeerAuthentication too
    expect(m.scenario.spec.workloads.map((w) => `${w.namespace}/${w.name}`)).toEqual(['app/client', 'noise/db', 'other/client']);
    expect(m.scenario.spec.probes.map((p) => p.name)).toEqual(['db-from-other', 'db-from-app']);
  });

  test('an unknown probe is an error naming the probes there are', async () => {
    const s = await fixture();
    expect(() => minimize(s, 'nope')).toThrow(/no probe "nope".*public/);
  });
});

describe('commands.sh', () => {
  test('shq makes one literal word of anything', () => {
    for (const v of ["a'b", '$(touch /tmp/x)', '`id`', 'a b\tc', '"\\', "'; rm -rf / #"]) {
      expect(execFileSync('bash', ['-c', `printf %s ${shq(v)}`], { encoding: 'utf8' })).toBe(v);
    }
    expect(() => shq('a\0b')).toThrow(/NUL/);
  });

  test('hostile values in a raw request stay data: bash parses the script and nothing runs', async () => {
    const s = await fixture();
    const m = minimize(s, 'dot-segments');
    const evil = "/x'$(touch${IFS}/tmp/mp-pwned)'`id`";
    const probe = {
      ...m.probe,
      http: { raw: { method: 'GET', requestTarget: evil, version: '1.1' as const, headers: [['x-a', "'; id; '"] as [string, string]] } },
    };
    const script = commandsScript(m.scenario, probe, 'repro-1');
    expect(script).toContain(shq(evil));
    execFileSync('bash', ['-n'], { input: script });
    // the curl line, evaluated by bash with curl replaced by printf, gives back the exact arguments
    const args = curlArgs(m.scenario, probe, 'repro-1');
    const echoed = execFileSync('bash', ['-c', `printf '%s\\n' ${args.slice(1).map(shq).join(' ')}`], { encoding: 'utf8' });
    expect(echoed.split('\n').slice(0, -1)).toEqual(args.slice(1));
    expect(args).toEqual(expect.arrayContaining(['--path-as-is', '--request-target', evil, '-H', 'x-meshprobe-nonce: repro-1']));
    expect(existsSync('/tmp/mp-pwned')).toBe(false);
  });

  test('the lab section names the source netns, the destination address and the sidecar decision log; the cluster one kubectl exec and istioctl', async () => {
    const m = minimize(await fixture(), 'dot-segments');
    const script = commandsScript(m.scenario, m.probe, 'repro-dot-segments-1');
    expect(script).toMatch(
      /ip netns exec "mp-\$LAB-"'w0-app-client' 'curl' .*'--request-target' '\/public\/\.\.\/private'.*'http:\/\/10\.244\.1\.3:8080'/,
    );
    expect(script).toContain("'w1-app-web'/sidecar.log");
    expect(script).toMatch(/kubectl exec -i -n "\$SRC_NS" deploy\/'client' -c agent -- node \/agent\/meshprobe-agent\.mjs call <<< /);
    expect(script).toMatch(/istioctl proxy-config listener -n "\$DST_NS" "deploy\/"'web'/);
  });
});

describe('finding output', () => {
  test('refuses a symlinked directory component and a symlink in place of a file', () => {
    const base = mkdtempSync(join(tmpdir(), 'mp-out-'));
    mkdirSync(join(base, 'real'));
    symlinkSync(join(base, 'real'), join(base, 'link'));
    expect(() => prepareDir(join(base, 'link', 'f'))).toThrow(OutputError);
    const dir = prepareDir(join(base, 'ok', 'f'));
    symlinkSync('/etc/passwd', join(dir, 'finding.md'));
    expect(() => writeInside(dir, 'finding.md', 'x')).toThrow(/symbolic link/);
    expect(() => writeInside(dir, '../x', 'x')).toThrow(/bad file name/);
    writeInside(dir, 'scenario.yaml', 'a: 1\n');
    expect(readFileSync(join(dir, 'scenario.yaml'), 'utf8')).toBe('a: 1\n');
  });

  test('a code span cannot be closed early by the value', () => {
    expect(code('a`b')).toBe('`` a`b ``');
    expect(code('x\ny')).toBe('` x y `');
  });
});
