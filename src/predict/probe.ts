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

/** The scenario to run, with the expectations the target can check (dropping mtls/peer when it refuses them). */
function runnable(target: Target, name: string, input: WorldInput, resources: readonly Resource[], matrix: Matrix): { scenario: Scenario; matrix: Matrix } | { error: string } {
  let m = matrix;
  for (let round = 0; round < 2; round++) {
    const scenario = matrixScenario(name, input, resources, m);
    try {
      target.check(scenario);
      return { scenario, matrix: m };
    } catch (err) {
      if (err instanceof UnsupportedError && MTLS_FIELD.test(err.field) && round === 0) {
        const note = `the ${target.name} target cannot observe mutual TLS yet (${err.message}): mtls and peer were predicted but not checked`;
        m = { ...m, notes: [...m.notes, note], cells: m.cells.map((c) => ({ ...c, expected: withoutMtls(c.expected) })) };
        continue;
      }
      const hint = err instanceof UnsupportedError && err.hint ? ` (${err.hint})` : '';
      return { error: `the ${target.name} target cannot run this matrix: ${(err as Error).message}${hint}` };
    }
  }
  return { error: 'unreachable' };
}

export async function probeMatrix(input: WorldInput, resources: readonly Resource[], matrix: Matrix, o: ProbeMatrixOptions): Promise<ProbeMatrixResult> {
  if (!matrix.cells.some((c) => c.prediction.reach)) {
    return { ok: false, error: 'no flow is predicted to get through: without a positive control the blocked probes would prove nothing' };
  }
  const target = typeof o.target === 'object' ? o.target : await createTarget(o.target);
  const name = o.name ?? 'matrix';
  const prepared = runnable(target, name, input, resources, matrix);
  if ('error' in prepared) return { ok: false, error: prepared.error };
  const result = await run({
    paths: [`<${name}>`],
    target,
    load: async () => ({ scenarios: [{ scenario: prepared.scenario, file: `<${name}>`, doc: 0, line: 1 }], errors: [] }),
    consecutive: o.consecutive ?? 1,
    settleTimeoutMs: o.settleTimeoutMs ?? 0,
    parallel: 1,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  if (result.inputErrors.length > 0) return { ok: false, error: result.inputErrors.join('\n') };
  const scenario = result.scenarios[0];
  const notes = scenario && scenario.verdict === 'ERROR' && scenario.reason ? [`the matrix scenario ended in ERROR: ${scenario.reason}`] : [];
  return { ok: true, matrix: observe(prepared.matrix, scenario?.probes ?? [], notes), run: result };
}
