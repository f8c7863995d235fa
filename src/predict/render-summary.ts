/**
 * The namespace-pair view of a Matrix: at 90 × 90 workloads a grid per port has 8,100 cells, more than a person
 * reads. So every view starts with one row per (source namespace → destination namespace) pair — how many flows
 * were predicted to reach or be blocked, and how many agreed, diverged, were flaky or errors — and drills down to
 * cells only where something differs (console) or on request (HTML <details>).
 */
import { countStatus, type Matrix, type MatrixCell } from './matrix.js';

/** Above this many sources the console prints grids only for namespace pairs with a divergence, flake or error. */
export const LARGE_MATRIX_SOURCES = 30;

export interface PairRow {
  from: string;
  to: string;
  cells: MatrixCell[];
  reach: number;
  blocked: number;
  counts: ReturnType<typeof countStatus>;
}

/** The namespace of a workload key (`ns/name`); externals are grouped as `(external)`. */
export const namespaceOf = (key: string) => (key.includes('/') ? key.slice(0, key.indexOf('/')) : '(external)');

export function namespacePairs(matrix: Matrix): PairRow[] {
  const groups = new Map<string, MatrixCell[]>();
  for (const c of matrix.cells) {
    const k = `${namespaceOf(c.flow.from)}\n${namespaceOf(c.flow.to)}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  return [...groups].map(([k, cells]) => {
    const [from, to] = k.split('\n');
    const reach = cells.filter((c) => c.prediction.reach).length;
    return { from, to, cells, reach, blocked: cells.length - reach, counts: countStatus({ ...matrix, cells }) };
  });
}

/** Pairs with something to look at (a divergence, flake or error). */
export const troubled = (r: PairRow) => r.counts.diverge + r.counts.flaky + r.counts.error > 0;

export function pairSummary(matrix: Matrix): string {
  const rows = namespacePairs(matrix);
  const probed = matrix.cells.some((c) => c.status !== 'predicted');
  const head = ['from', 'to', 'flows', 'reach', 'blocked', ...(probed ? ['agree', 'diverge', 'flaky', 'error', 'not run'] : [])];
  const body = rows.map((r) =>
    [
      r.from,
      r.to,
      r.cells.length,
      r.reach,
      r.blocked,
      ...(probed ? [r.counts.agree, r.counts.diverge, r.counts.flaky, r.counts.error, r.counts.skipped] : []),
    ].map(String),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return ['by namespace pair (predicted reach / blocked; then what the probes found):', line(head), ...body.map(line)].join('\n');
}
