/**
 * The namespace-pair summary that opens every matrix view, and the console's drill-down for large matrices:
 * only pairs with a divergence get grids, and the counts add up to the cells.
 */
import { describe, expect, it } from '@jest/globals';
import type { Matrix, MatrixCell } from '../../src/predict/matrix.js';
import { matrixJson, truthTable } from '../../src/predict/render.js';
import { LARGE_MATRIX_SOURCES, namespacePairs } from '../../src/predict/render-summary.js';

function matrix(perNamespace: number, divergent: (from: string, to: string) => boolean): Matrix {
  const keys = ['a', 'b'].flatMap((ns) => Array.from({ length: perNamespace }, (_, i) => `${ns}/w${i}`));
  const cells = keys.flatMap((from) =>
    keys.map(
      (to): MatrixCell => ({
        name: `${from}-${to}`.replace(/\//g, '-'),
        flow: { from, to, port: 80, protocol: 'tcp' },
        prediction: { reach: from.startsWith('a'), ...(from.startsWith('a') ? {} : { failure: 'timeout' }) } as MatrixCell['prediction'],
        expected: { reach: from.startsWith('a') },
        status: divergent(from, to) ? 'diverge' : 'agree',
      }),
    ),
  );
  return { sources: keys, destinations: keys, cells, notes: [] };
}

describe('namespace pairs', () => {
  it('count every cell once, by pair', () => {
    const rows = namespacePairs(matrix(3, () => false));
    expect(rows.map((r) => `${r.from}>${r.to}:${r.cells.length}:${r.reach}/${r.blocked}`)).toEqual([
      'a>a:9:9/0',
      'a>b:9:9/0',
      'b>a:9:0/9',
      'b>b:9:0/9',
    ]);
  });

  it('a large matrix prints the summary and grids only for the pair that diverges; --json keeps every cell', () => {
    const n = LARGE_MATRIX_SOURCES; // 2n sources: above the limit
    const m = matrix(n, (from, to) => from === 'b/w1' && to === 'a/w2');
    const text = truthTable(m);
    expect(text).toMatch(/^by namespace pair/);
    expect(text).toMatch(/^b\s+a\s+900\s+0\s+900\s+899\s+1\s+0\s+0\s+0$/m);
    expect(text).toContain('b → a:');
    expect(text).not.toContain('a → a:');
    expect(text.match(/!/g)).toHaveLength(2); // the cell and the legend
    expect(JSON.parse(matrixJson(m)).cells).toHaveLength(m.cells.length);
  });
});
