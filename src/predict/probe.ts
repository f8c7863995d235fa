/**
 * Probing a predicted matrix on a target (side effects: deploy, probe, undeploy) through the engine's run():
 * the matrix becomes one scenario whose expectations are the predictions, judged with one observation per probe
 * and no settling by default (policy is applied before the probes start, so there is nothing to converge).
 * If the target cannot observe mutual TLS yet, mtls/peer are left out of the expectations and a note says so.
 */
import { run } from '../engine/run.js';
import type { OnEvent } from '../engine/events.js';
import type { RunResult } from '../engine/types.js';
import type { Resource, Scenario } from '../scenario/schema.js';
import { createTarget } from '../targets/index.js';
import { UnsupportedError, type Target, type TargetName } from '../targets/target.js';
import { withoutMtls } from './expectation.js';
import { matrixScenario, observe, type Matrix } from './matrix.js';
import type { WorldInput } from './world.js';

export interface ProbeMatrixOptions {
  readonly target: TargetName | Target;
  readonly consecutive?: number;
  readonly settleTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: OnEvent;
  readonly name?: string;
}

export type ProbeMatrixResult =
  | { readonly ok: true; readonly matrix: Matrix; readonly run: RunResult }
  | { readonly ok: false; readonly error: string };

const MTLS_FIELD = /\.expect\.(mtls|peer)$/;

type Checked = { ok: true; scenario: Scenario; matrix: Matrix } | { ok: false; err: unknown };

/** The scenario to run, with the expectations the target can check (dropping mtls/peer when it refuses them). */
export function runnable(
  target: Target,
  name: string,
  input: WorldInput,
  resources: readonly Resource[],
  matrix: Matrix,
): { scenario: Scenario; matrix: Matrix } | { error: string } {
  const attempt = (m: Matrix): Checked => {
    const scenario = matrixScenario(name, input, resources, m);
    try {
      target.check(scenario);
      return { ok: true, scenario, matrix: m };
    } catch (err) {
      return { ok: false, err };
    }
  };
  let result = attempt(matrix);
  if (!result.ok && result.err instanceof UnsupportedError && MTLS_FIELD.test(result.err.field)) {
    const note = `the ${target.name} target cannot observe mutual TLS yet (${result.err.message}): mtls and peer were predicted but not checked`;
    result = attempt({ ...matrix, notes: [...matrix.notes, note], cells: matrix.cells.map((c) => ({ ...c, expected: withoutMtls(c.expected) })) });
  }
  if (result.ok) return { scenario: result.scenario, matrix: result.matrix };
  const err = result.err;
  const hint = err instanceof UnsupportedError && err.hint ? ` (${err.hint})` : '';
  return { error: `the ${target.name} target cannot run this matrix: ${err instanceof Error ? err.message : String(err)}${hint}` };
}

/**
 * Cells probed in a deployment of their own, after the others: a flush-capture probe empties its pod's nat table
 * while it runs, which also un-captures connections INTO that pod from concurrent probes. The second deployment
 * carries the same sources' reachable cells again as its positive control; only the isolated cells' judgements
 * are kept from it.
 */
function phases(matrix: Matrix): Matrix[] {
  const isolated = matrix.cells.filter((c) => c.flow.bypass === 'flush-capture');
  if (isolated.length === 0) return [matrix];
  const sources = new Set(isolated.map((c) => c.flow.from));
  const controls = matrix.cells.filter((c) => !c.flow.bypass && c.prediction.reach && sources.has(c.flow.from));
  return [
    { ...matrix, cells: matrix.cells.filter((c) => !c.flow.bypass) },
    { ...matrix, cells: [...isolated, ...controls] },
  ];
}

export async function probeMatrix(
  input: WorldInput,
  resources: readonly Resource[],
  matrix: Matrix,
  o: ProbeMatrixOptions,
): Promise<ProbeMatrixResult> {
  if (!matrix.cells.some((c) => c.prediction.reach)) {
    return { ok: false, error: 'no flow is predicted to get through: without a positive control the blocked probes would prove nothing' };
  }
  const target = typeof o.target === 'object' ? o.target : await createTarget(o.target);
  const name = o.name ?? 'matrix';
  const prepared = phases(matrix).map((m, k) => runnable(target, k === 0 ? name : `${name.slice(0, 56)}-isolated`, input, resources, m));
  const failed = prepared.find((p): p is { error: string } => 'error' in p);
  if (failed) return { ok: false, error: failed.error };
  const ready = prepared as Array<{ scenario: Scenario; matrix: Matrix }>;
  const result = await run({
    paths: [`<${name}>`],
    target,
    load: async () => ({ scenarios: ready.map((p) => ({ scenario: p.scenario, file: `<${name}>`, doc: 0, line: 1 })), errors: [] }),
    consecutive: o.consecutive ?? 1,
    settleTimeoutMs: o.settleTimeoutMs ?? 0,
    parallel: 1,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  if (result.inputErrors.length > 0) return { ok: false, error: result.inputErrors.join('\n') };
  const notes = [
    ...new Set(ready.flatMap((r) => target.sizeNote?.(r.scenario) ?? [])),
    ...result.scenarios
      .filter((sc) => sc.verdict === 'ERROR' || sc.verdict === 'SKIPPED')
      .map((sc) => `scenario ${sc.name} ended ${sc.verdict}: ${sc.reason ?? ''}`),
  ];
  // Phase 1 judges every cell it has; the isolated phase only its flush-capture cells.
  const judgements = [...(result.scenarios[0]?.probes ?? []), ...(result.scenarios[1]?.probes ?? []).filter((j) => j.bypass === 'flush-capture')];
  // The expectations each cell was run with, by name (the first phase's where a name is in both): one lookup per
  // cell, not a scan of every cell per cell, which grew with the square of the matrix (≈ 28 s of CPU at 12,150 cells).
  const ran = new Map<string, (typeof matrix.cells)[number]['expected']>();
  for (const r of ready) for (const x of r.matrix.cells) if (!ran.has(x.name)) ran.set(x.name, x.expected);
  const base = {
    ...matrix,
    notes: ready[0].matrix.notes,
    cells: matrix.cells.map((c) => ({ ...c, expected: ran.get(c.name) ?? c.expected })),
  };
  return { ok: true, matrix: observe(base, judgements, notes), run: result };
}
