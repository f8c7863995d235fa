import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { matrixCommand } from '../../src/cli/matrix.js';
import { auditCommand } from '../../src/cli/audit.js';
import { externals, manifest, namespaces, workloads } from '../predict/fixtures.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _e, cb) {
        text += String(chunk);
        cb();
      },
    }),
    text: () => text,
  };
}

describe('meshprobe matrix / audit --predict-only', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp-cli-'));
    await writeFile(join(dir, 'workloads.yaml'), stringify({ namespaces, workloads, externals }));
    await writeFile(join(dir, 'policies.yaml'), stringify(manifest('PeerAuthentication', 'foo', 'default', { mtls: { mode: 'STRICT' } })));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the truth table, writes JSON and HTML, exits 0', async () => {
    const out = sink();
    const status = await matrixCommand(
      {
        workloads: join(dir, 'workloads.yaml'),
        policies: join(dir, 'policies.yaml'),
        target: 'lab',
        predictOnly: true,
        json: join(dir, 'm.json'),
        html: join(dir, 'm.html'),
      },
      out.stream,
      out.stream,
    );
    expect(status).toBe(0);
    const grid = out.text().split('8000/http')[1];
    const row = grid.split('\n').find((l) => l.startsWith('legacy/sleep'));
    // Only the three httpbins listen on 8000 (columns 4-6): foo's is reset, bar's and legacy's accept plaintext.
    const width = Math.max(...workloads.map((w) => `${w.namespace}/${w.name}`.length));
    const symbols = Array.from({ length: 8 }, (_, i) => (row ?? '').slice(width + 2 + 3 * i, width + 4 + 3 * i).trim());
    expect(symbols).toEqual(['', '', '', 'X', '.', '.', '', '']);
    const json = JSON.parse(await readFile(join(dir, 'm.json'), 'utf8')) as {
      cells: Array<{ flow: { from: string; to: string }; prediction: { reach: boolean } }>;
    };
    expect(json.cells.find((c) => c.flow.from === 'legacy/sleep' && c.flow.to === 'foo/httpbin')?.prediction.reach).toBe(false);
    expect(await readFile(join(dir, 'm.html'), 'utf8')).toContain('<h2>8000/http</h2>');
  });

  it('invalid input: file:line errors on stderr, exit 2, nothing probed', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'namespaces:\n  - name: foo\nworkloads: []\n');
    const out = sink();
    const err = sink();
    const status = await matrixCommand({ workloads: join(dir, 'bad.yaml'), target: 'lab' }, out.stream, err.stream);
    expect(status).toBe(2);
    expect(err.text()).toMatch(/bad\.yaml:3:\d+: workloads: /);
    expect(out.text()).toBe('');
  });

  it('audit --predict-only lists the UDP bypass of a STRICT namespace', async () => {
    const out = sink();
    const status = await auditCommand(
      [],
      { workloads: join(dir, 'workloads.yaml'), policies: join(dir, 'policies.yaml'), target: 'lab', predictOnly: true, failOnBypass: true },
      out.stream,
      out.stream,
    );
    expect(status).toBe(1);
    expect(out.text()).toContain('foo/tcp-echo — protected by PeerAuthentication STRICT on 9000');
    expect(out.text()).toMatch(/BYPASS udp\s+bar\/sleep → foo\/tcp-echo 9002\/udp/);
  });
});
