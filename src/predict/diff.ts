/**
 * What a policy change does to reachability (pure): two matrices over the same flows, before and after, compared
 * cell by cell. A flow OPENS when it is blocked before and reaches after, CLOSES the other way round; a flow that
 * reaches in both but changes how (mTLS, sidecar path) or is blocked in both but fails differently is CHANGED.
 * When both matrices were probed, the observed side is compared too, so a reviewer sees whether the data plane
 * agrees with the prediction on both sides of the change.
 */
import { describePrediction, formatExplanation } from './expectation.js';
import { cellKey, type Matrix, type MatrixCell } from './matrix.js';
import { flowText } from './render.js';
import type { Prediction } from './types.js';

export type ChangeKind = 'opens' | 'closes' | 'changes';

export interface FlowChange {
  readonly kind: ChangeKind;
  readonly before: MatrixCell;
  readonly after: MatrixCell;
  /** The decisive reason on the side where the flow is now decided (the after side). */
  readonly why: string;
  /** With probing: did the data plane observe the change? undefined when either side was not probed. */
  readonly observed?: { readonly before: boolean | undefined; readonly after: boolean | undefined };
}

export interface MatrixDiff {
  readonly changes: readonly FlowChange[];
  readonly unchanged: number;
  /** Flows present on one side only (the workloads differ). */
  readonly unmatched: readonly string[];
}

function sameHow(a: Prediction, b: Prediction): boolean {
  if (a.reach !== b.reach) return false;
  if (!a.reach || !b.reach) return !a.reach && !b.reach && a.failure === b.failure;
  return a.mtls === b.mtls && a.viaSidecar === b.viaSidecar && a.peer === b.peer;
}

/** The last layer of the explanation: the one that decided the outcome. */
function decisive(p: Prediction): string {
  const last = p.explanation.at(-1);
  return last ? `${last.layer}: ${last.text}` : '';
}

function observedReach(c: MatrixCell): boolean | undefined {
  return c.observed?.facts ? c.observed.facts.reach : undefined;
}

export function diffMatrices(before: Matrix, after: Matrix): MatrixDiff {
  const beforeCells = new Map(before.cells.map((c) => [cellKey(c.flow), c]));
  const afterKeys = new Set(after.cells.map((c) => cellKey(c.flow)));
  const changes: FlowChange[] = [];
  let unchanged = 0;
  for (const a of after.cells) {
    const b = beforeCells.get(cellKey(a.flow));
    if (!b) continue;
    if (sameHow(b.prediction, a.prediction)) {
      unchanged += 1;
      continue;
    }
    const kind: ChangeKind = !b.prediction.reach && a.prediction.reach ? 'opens' : b.prediction.reach && !a.prediction.reach ? 'closes' : 'changes';
    const probed = b.observed !== undefined || a.observed !== undefined;
    changes.push({
      kind,
      before: b,
      after: a,
      why: decisive(a.prediction),
      ...(probed ? { observed: { before: observedReach(b), after: observedReach(a) } } : {}),
    });
  }
  const unmatched = [
    ...before.cells.filter((c) => !afterKeys.has(cellKey(c.flow))).map(flowText),
    ...after.cells.filter((c) => !beforeCells.has(cellKey(c.flow))).map(flowText),
  ];
  return { changes, unchanged, unmatched };
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const yesNo = (b: boolean | undefined) => (b === undefined ? '—' : b ? 'reached' : 'blocked');

/** Markdown for a pull-request comment: a summary line, then one table per kind of change. */
export function diffMarkdown(d: MatrixDiff, title = 'meshprobe: reachability change'): string {
  const count = (k: ChangeKind) => d.changes.filter((c) => c.kind === k).length;
  const lines = [
    `### ${title}`,
    '',
    `**${count('opens')} flows open, ${count('closes')} close, ${count('changes')} change how they get through**; ${d.unchanged} unchanged.`,
    '',
  ];
  const probed = d.changes.some((c) => c.observed);
  const sections: Array<[ChangeKind, string]> = [
    ['opens', 'Flows that open'],
    ['closes', 'Flows that close'],
    ['changes', 'Flows that change'],
  ];
  for (const [kind, heading] of sections) {
    const list = d.changes.filter((c) => c.kind === kind);
    if (list.length === 0) continue;
    lines.push(`#### ${heading} (${list.length})`, '');
    lines.push(probed ? '| flow | before | after | observed before → after | why |' : '| flow | before | after | why |');
    lines.push(probed ? '|---|---|---|---|---|' : '|---|---|---|---|');
    for (const c of list) {
      const cols = [md(flowText(c.after)), md(describePrediction(c.before.prediction)), md(describePrediction(c.after.prediction))];
      if (probed) cols.push(`${yesNo(c.observed?.before)} → ${yesNo(c.observed?.after)}`);
      cols.push(md(c.why));
      lines.push(`| ${cols.join(' | ')} |`);
    }
    lines.push('');
  }
  if (d.changes.length === 0) lines.push('No flow changes.', '');
  if (d.unmatched.length)
    lines.push(
      `<details><summary>${d.unmatched.length} flows exist on one side only</summary>`,
      '',
      ...d.unmatched.map((f) => `- ${md(f)}`),
      '',
      '</details>',
      '',
    );
  return lines.join('\n');
}

export function diffText(d: MatrixDiff): string {
  if (d.changes.length === 0) return `no flow changes (${d.unchanged} flows unchanged)`;
  return d.changes
    .map(
      (c) =>
        `${c.kind.padEnd(7)} ${flowText(c.after)}: ${describePrediction(c.before.prediction)} → ${describePrediction(c.after.prediction)}\n    ${formatExplanation(c.after.prediction).split('\n').join('\n    ')}`,
    )
    .join('\n');
}
