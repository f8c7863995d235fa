/** The matrix HTML in headless Debian chromium: it opens offline and every cell carries its status and explanation. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matrixFlows, observe, predictMatrix } from '../../src/predict/matrix.js';
import { matrixHtml } from '../../src/predict/render.js';
import type { ProbeJudgement } from '../../src/engine/types.js';
import { CHROMIUM, dumpDom } from '../report/chromium.js';
import { manifest, world } from './fixtures.js';

const describeIfChromium = existsSync(CHROMIUM) ? describe : describe.skip;

describeIfChromium('matrix HTML in headless chromium', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp-matrix-html-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('one grid per port/protocol, the divergent cell marked and explained', async () => {
    const w = world({ resources: [manifest('PeerAuthentication', 'foo', 'default', { mtls: { mode: 'STRICT' } })] });
    const m = predictMatrix(w, matrixFlows(w, ['http', 'udp']));
    const wrong = m.cells.find((c) => c.flow.from === 'legacy/sleep' && c.flow.to === 'foo/httpbin');
    const judgements = m.cells.map(
      (c): ProbeJudgement => ({
        name: c.name,
        from: c.flow.from,
        to: c.flow.to,
        protocol: c.flow.protocol,
        expected: c.expected,
        checks: [],
        attempts: [],
        durationMs: 1,
        verdict: c === wrong ? 'FAIL' : 'PASS',
        reason: c === wrong ? 'expected a TCP reset, but it reached foo/httpbin' : 'ok',
        observed: { outcome: 'ok', reach: true, mtls: false },
      }),
    );
    const file = join(dir, 'm.html');
    await writeFile(file, matrixHtml(observe(m, judgements)));
    const dom = await dumpDom(file);
    expect(dom.match(/<h2>[^<]*<\/h2>/g)).toEqual([
      '<h2>By namespace pair</h2>',
      '<h2>80/http</h2>',
      '<h2>8000/http</h2>',
      '<h2>9002/udp</h2>',
      '<h2>Divergences</h2>',
    ]);
    expect(dom.match(/data-status="diverge"/g)).toHaveLength(1);
    expect(dom).toMatch(/data-status="diverge"[^>]*title="legacy\/sleep → foo\/httpbin 8000\/http\npredicted: blocked \(reset\)/);
    expect(dom).toContain('STRICT requires mutual TLS');
    expect(dom.match(/data-status="agree"/g)).toHaveLength(m.cells.length - 1);
  }, 60_000);
});
