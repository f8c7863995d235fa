/**
 * Views of a Matrix: a console truth table (one grid per port/protocol, sources × destinations, like cyclonus),
 * JSON, a self-contained HTML page and the divergence list with each prediction's explanation.
 * Cell symbols: `.` reaches, `X` blocked — as predicted (and observed, once probed); `!` observation differs
 * from the prediction; `~` flaky; `E` infrastructure error; `-` not run.
 */
import { htmlEscape } from '../report/html.js';
import { describePrediction, formatExplanation } from './expectation.js';
import { cellKey, columnKey, columnsOf, countStatus, type Matrix, type MatrixCell } from './matrix.js';
import { LARGE_MATRIX_SOURCES, namespaceOf, namespacePairs, pairSummary, troubled } from './render-summary.js';

export function symbol(cell: MatrixCell): string {
  switch (cell.status) {
    case 'predicted':
    case 'agree':
      return cell.prediction.reach ? '.' : 'X';
    case 'diverge':
      return '!';
    case 'flaky':
      return '~';
    case 'error':
      return 'E';
    case 'skipped':
      return '-';
  }
}

function index(matrix: Matrix): Map<string, MatrixCell> {
  return new Map(matrix.cells.map((c) => [cellKey(c.flow), c]));
}

/**
 * The summary per namespace pair, then the grids: all of them for a small matrix; for a large one (more than
 * LARGE_MATRIX_SOURCES sources) only the namespace pairs where something differs — every cell is in --json/--html.
 */
export function truthTable(matrix: Matrix): string {
  const summary = pairSummary(matrix);
  if (matrix.sources.length <= LARGE_MATRIX_SOURCES)
    return `${summary}

${grids(matrix)}`;
  const parts = namespacePairs(matrix)
    .filter(troubled)
    .map((r) => {
      const sub: Matrix = {
        ...matrix,
        cells: r.cells,
        sources: matrix.sources.filter((k) => namespaceOf(k) === r.from),
        destinations: matrix.destinations.filter((k) => namespaceOf(k) === r.to),
      };
      return `${r.from} → ${r.to}:\n${grids(sub)}`;
    });
  const note = parts.length ? '' : '\n\n(no namespace pair has a divergence, flake or error: the grids of every cell are in --html and --json)';
  return [summary + note, ...parts].join('\n\n');
}

function grids(matrix: Matrix): string {
  const cells = index(matrix);
  const lines: string[] = ['destinations:'];
  matrix.destinations.forEach((d, i) => lines.push(`  ${String(i + 1).padStart(2)} ${d}`));
  const width = Math.max(...matrix.sources.map((s) => s.length));
  for (const col of columnsOf(matrix)) {
    lines.push('', `${columnKey(col)}`);
    lines.push(`${' '.repeat(width)}  ${matrix.destinations.map((_, i) => String(i + 1).padStart(2)).join(' ')}`);
    for (const src of matrix.sources) {
      const row = matrix.destinations.map((dst) => {
        const cell = cells.get(cellKey({ from: src, to: dst, ...col }));
        return (cell ? symbol(cell) : ' ').padStart(2);
      });
      lines.push(`${src.padEnd(width)}  ${row.join(' ')}`);
    }
  }
  lines.push('', 'legend: . reaches  X blocked  (as predicted)  ! differs from the prediction  ~ flaky  E error  - not run');
  return lines.join('\n');
}

export function divergences(matrix: Matrix): MatrixCell[] {
  return matrix.cells.filter((c) => c.status === 'diverge' || c.status === 'flaky' || c.status === 'error');
}

export function flowText(c: MatrixCell): string {
  const f = c.flow;
  const extra = [f.asUser !== undefined ? `as uid ${f.asUser}` : '', f.bypass ?? ''].filter(Boolean).join(', ');
  return `${f.from} → ${f.to} ${f.port !== undefined ? `${f.port}/` : ''}${f.protocol}${extra ? ` (${extra})` : ''}`;
}

export function divergenceReport(matrix: Matrix): string {
  const list = divergences(matrix);
  if (list.length === 0) return 'no divergences: every observation matched its prediction';
  return list
    .map((c) =>
      [
        `${symbol(c)} ${flowText(c)}: predicted ${describePrediction(c.prediction)}; ${c.observed?.verdict ?? ''}: ${c.observed?.reason ?? ''}`,
        ...formatExplanation(c.prediction)
          .split('\n')
          .map((l) => `    ${l}`),
      ].join('\n'),
    )
    .join('\n');
}

export function summaryLine(matrix: Matrix): string {
  const n = countStatus(matrix);
  const probed = matrix.cells.length - n.predicted;
  if (probed === 0) return `${matrix.cells.length} flows predicted (not probed)`;
  return `${matrix.cells.length} probes: ${n.agree} as predicted, ${n.diverge} diverge, ${n.flaky} flaky, ${n.error} error, ${n.skipped} not run`;
}

export function matrixJson(matrix: Matrix, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ formatVersion: 1, ...extra, summary: countStatus(matrix), ...matrix }, null, 2)}\n`;
}

const CELL_CLASS: Record<MatrixCell['status'], string> = {
  predicted: 'ok',
  agree: 'ok',
  diverge: 'bad',
  flaky: 'warn',
  error: 'warn',
  skipped: 'none',
};

export function matrixHtml(matrix: Matrix, title = 'meshprobe reachability matrix'): string {
  const cells = index(matrix);
  const gridHtml = columnsOf(matrix)
    .map((col) => {
      const head = matrix.destinations.map((d) => `<th title="${htmlEscape(d)}">${htmlEscape(d)}</th>`).join('');
      const rows = matrix.sources
        .map((src) => {
          const tds = matrix.destinations
            .map((dst) => {
              const c = cells.get(cellKey({ from: src, to: dst, ...col }));
              if (!c) return '<td></td>';
              const tip = `${flowText(c)}\npredicted: ${describePrediction(c.prediction)}\n${formatExplanation(c.prediction)}${c.observed ? `\nobserved (${c.observed.verdict}): ${c.observed.reason}` : ''}`;
              const cls = CELL_CLASS[c.status] === 'ok' && !c.prediction.reach ? 'blocked' : CELL_CLASS[c.status];
              return `<td class="${cls}" data-status="${c.status}" data-cell="${htmlEscape(cellKey(c.flow))}" title="${htmlEscape(tip)}">${symbol(c)}</td>`;
            })
            .join('');
          return `<tr><th>${htmlEscape(src)}</th>${tds}</tr>`;
        })
        .join('\n');
      return `<h2>${htmlEscape(columnKey(col))}</h2><table><tr><th>from \\ to</th>${head}</tr>\n${rows}</table>`;
    })
    .join('\n');
  const pairs = namespacePairs(matrix)
    .map(
      (r) =>
        `<tr class="${troubled(r) ? 'bad' : 'ok'}"><td>${htmlEscape(r.from)}</td><td>${htmlEscape(r.to)}</td>${[r.cells.length, r.reach, r.blocked, r.counts.agree, r.counts.diverge, r.counts.flaky, r.counts.error, r.counts.skipped].map((n) => `<td>${n}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const pairTable = `<h2>By namespace pair</h2><table id="pairs"><tr><th>from</th><th>to</th><th>flows</th><th>reach</th><th>blocked</th><th>agree</th><th>diverge</th><th>flaky</th><th>error</th><th>not run</th></tr>\n${pairs}</table>`;
  const large = matrix.sources.length > LARGE_MATRIX_SOURCES;
  const divs = divergences(matrix)
    .map(
      (c) =>
        `<li><b>${htmlEscape(flowText(c))}</b>: predicted ${htmlEscape(describePrediction(c.prediction))}; ${htmlEscape(c.observed?.reason ?? '')}<pre>${htmlEscape(formatExplanation(c.prediction))}</pre></li>`,
    )
    .join('\n');
  const notes = matrix.notes.map((n) => `<li>${htmlEscape(n)}</li>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${htmlEscape(title)}</title><style>
body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #ccc;padding:2px 6px;font-size:12px}
td{text-align:center;font-family:monospace;cursor:help}td.ok{background:#eef8ee}td.blocked{background:#e4e4e4}td.bad{background:#f8c8c8;font-weight:bold}td.warn{background:#fbeec0}td.none{background:#eee}
pre{background:#f6f6f6;padding:4px;white-space:pre-wrap}</style></head><body>
<h1>${htmlEscape(title)}</h1><p id="summary">${htmlEscape(summaryLine(matrix))}</p>${notes ? `<ul id="notes">${notes}</ul>` : ''}
<p>. reaches, X blocked (as predicted); ! observation differs from the prediction; ~ flaky; E error. Hover a cell for the explanation.</p>
${pairTable}
${large ? `<details><summary>every cell (${matrix.cells.length}), one grid per port</summary>${gridHtml}</details>` : gridHtml}
<h2>Divergences</h2><ul id="divergences">${divs || '<li>none: every observation matched its prediction</li>'}</ul></body></html>
`;
}
