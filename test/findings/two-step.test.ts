/**
 * `diff --emit-scenario`: a before/after pair becomes a two-step scenario that the loader accepts; each step
 * probes the changed flows with its side's prediction, the after step deletes what the change removed.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect, test } from '@jest/globals';
import { stringify } from 'yaml';
import { diffCommand } from '../../src/cli/diff.js';
import { loadScenarios } from '../../src/scenario/loader.js';
import { externals, manifest, namespaces, workloads } from '../predict/fixtures.js';

const allowFrom = (nss: string[]) =>
  manifest('AuthorizationPolicy', 'foo', 'httpbin-viewers', {
    selector: { matchLabels: { app: 'httpbin' } },
    rules: [{ from: [{ source: { namespaces: nss } }] }],
  });
const strictFoo = manifest('PeerAuthentication', 'foo', 'default', { mtls: { mode: 'STRICT' } });
const denyAll = manifest('AuthorizationPolicy', 'foo', 'deny-everything', {
  selector: { matchLabels: { app: 'httpbin' } },
  action: 'DENY',
  rules: [{}],
});

test("a policy change as steps before/after: valid, the changed flows with each side's prediction, removals deleted", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mp-two-step-'));
  const sides = { before: [strictFoo, allowFrom(['foo']), denyAll], after: [strictFoo, allowFrom(['foo', 'bar'])] };
  for (const [name, resources] of Object.entries(sides)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'policies.yaml'), resources.map((r) => stringify(r)).join('---\n'));
  }
  await writeFile(join(dir, 'after', 'workloads.yaml'), stringify({ namespaces, workloads, externals }));
  let text = '';
  const out = new Writable({
    write(chunk, _e, cb) {
      text += String(chunk);
      cb();
    },
  });
  const file = join(dir, 'change.yaml');
  expect(await diffCommand({ before: join(dir, 'before'), after: join(dir, 'after'), target: 'lab', emitScenario: file }, out, out)).toBe(0);
  expect(text).toContain(`wrote ${file}`);
  const loaded = await loadScenarios([file]);
  expect(loaded.errors).toEqual([]);
  const s = loaded.scenarios[0].scenario;
  const [before, after] = s.spec.steps!;
  expect([before.name, after.name]).toEqual(['before', 'after']);
  expect(after.delete).toEqual([{ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', namespace: 'foo', name: 'deny-everything' }]);
  // every flow to foo/httpbin was denied before (DENY all) and the ones from foo and bar reach after
  const changed = (st: typeof before) => st.probes.filter((p) => !p.name.includes('control'));
  expect(changed(before).every((p) => p.to === 'foo/httpbin' && !p.expect.reach)).toBe(true);
  expect(changed(after).length).toBe(changed(before).length);
  expect(changed(after).some((p) => p.expect.reach && p.from.startsWith('bar/'))).toBe(true);
  expect(before.probes.some((p) => p.expect.reach)).toBe(true); // the before step's positive control
});
