import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { diffMarkdown, diffMatrices } from '../../src/predict/diff.js';
import { cellKey, matrixFlows, predictMatrix } from '../../src/predict/matrix.js';
import { diffCommand } from '../../src/cli/diff.js';
import { externals, manifest, namespaces, workloads, world } from './fixtures.js';

const allowFrom = (nss: string[]) =>
  manifest('AuthorizationPolicy', 'foo', 'httpbin-viewers', {
    selector: { matchLabels: { app: 'httpbin' } },
    action: 'ALLOW',
    rules: [{ from: [{ source: { namespaces: nss } }] }],
  });
const strictFoo = manifest('PeerAuthentication', 'foo', 'default', { mtls: { mode: 'STRICT' } });

function matrixFor(resources: ReturnType<typeof manifest>[]) {
  const w = world({ resources });
  return predictMatrix(w, matrixFlows(w, ['tcp', 'udp', 'http']));
}

describe('diffMatrices', () => {
  it("adding a namespace to an ALLOW rule opens exactly the flows from that namespace's workloads to the selected workload", () => {
    const d = diffMatrices(matrixFor([strictFoo, allowFrom(['foo'])]), matrixFor([strictFoo, allowFrom(['foo', 'bar'])]));
    const expected = workloads.filter((w) => w.namespace === 'bar').map((w) => `bar/${w.name}>foo/httpbin>8000/http`);
    expect(d.changes.map((c) => c.kind)).toEqual(expected.map(() => 'opens'));
    expect(d.changes.map((c) => cellKey(c.after.flow)).sort()).toEqual(expected.sort());
    expect(d.changes[0].why).toContain('allowed by AuthorizationPolicy foo/httpbin-viewers');
    expect(d.unmatched).toEqual([]);
  });

  it('removing it closes the same flows; an unrelated change is reported as a change, not an open/close', () => {
    const d = diffMatrices(matrixFor([strictFoo, allowFrom(['foo', 'bar'])]), matrixFor([strictFoo, allowFrom(['foo'])]));
    expect(new Set(d.changes.map((c) => c.kind))).toEqual(new Set(['closes']));
    const permissive = diffMatrices(matrixFor([strictFoo]), matrixFor([]));
    // STRICT → PERMISSIVE opens plaintext from legacy to foo and changes nothing that already reached.
    expect(permissive.changes.every((c) => c.kind === 'opens' && c.after.flow.from.startsWith('legacy/'))).toBe(true);
    expect(permissive.changes.length).toBeGreaterThan(0);
  });

  it('renders Markdown a pull request can show: counts, one table row per opened flow with its reason', () => {
    const md = diffMarkdown(diffMatrices(matrixFor([strictFoo, allowFrom(['foo'])]), matrixFor([strictFoo, allowFrom(['foo', 'bar'])])));
    expect(md).toContain('**2 flows open, 0 close, 0 change how they get through**');
    expect(md).toContain('| bar/sleep → foo/httpbin 8000/http | blocked (http-403) | reach, mTLS, via sidecar |');
    expect(md).not.toContain('Flows that close');
  });
});

describe('meshprobe diff (predicted)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp-diff-'));
    for (const [name, nss] of [
      ['before', ['foo']],
      ['after', ['foo', 'bar']],
    ] as const) {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'policies.yaml'), [strictFoo, allowFrom([...nss])].map((r) => stringify(r)).join('---\n'));
    }
    await writeFile(join(dir, 'after', 'workloads.yaml'), stringify({ namespaces, workloads, externals }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the opened flows, writes the Markdown and uses workloads.yaml from --after', async () => {
    let text = '';
    const out = new Writable({
      write(chunk, _e, cb) {
        text += String(chunk);
        cb();
      },
    });
    const status = await diffCommand(
      { before: join(dir, 'before'), after: join(dir, 'after'), target: 'lab', markdown: join(dir, 'pr.md') },
      out,
      out,
    );
    expect(status).toBe(0);
    expect(text).toContain('opens   bar/sleep → foo/httpbin 8000/http');
    expect(text.match(/^opens/gm)).toHaveLength(2);
    expect(await readFile(join(dir, 'pr.md'), 'utf8')).toContain('#### Flows that open (2)');
  });

  it('reports an invalid manifest by file:line and exits 2', async () => {
    await writeFile(
      join(dir, 'after', 'bad.yaml'),
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\n  namespace: foo\nspec:\n  acton: DENY\n',
    );
    let text = '';
    const out = new Writable({
      write(chunk, _e, cb) {
        text += String(chunk);
        cb();
      },
    });
    const status = await diffCommand({ before: join(dir, 'before'), after: join(dir, 'after'), target: 'lab' }, out, out);
    await rm(join(dir, 'after', 'bad.yaml'));
    expect(status).toBe(2);
    expect(text).toMatch(/bad\.yaml:7:3: spec\.acton: unknown field/);
  });
});
