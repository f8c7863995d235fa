/**
 * The library API: `run(options) → RunResult`. Load and validate everything, plan, then deploy → converge →
 * judge → undeploy each scenario (several at once), and tear the target down. Nothing is deployed when any input
 * is invalid. Reports are views of the returned RunResult (src/report/); writing them is the caller's choice.
 */
import { releaseStatus } from '../model/index.js';
import { setMaxListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createTarget, type TargetOptions } from '../targets/index.js';
import { TargetError, type Target, type TargetInfo, type TargetName } from '../targets/target.js';
import type { OnEvent } from './events.js';
import { executeScenario, notRun, type ExecuteContext } from './execute.js';
import { loadWithScenarioLoader, type Load, type LoadedScenario } from './loader.js';
import { compileFilters, planScenario, select, validateWhen, type ScenarioPlan } from './plan.js';
import type { RunResult, ScenarioResult } from './types.js';
import { exitStatusOf, summarize } from './verdict.js';
import { checkTimeouts, type ProbeTimeouts } from './timeouts.js';
import { allProbes } from '../scenario/steps.js';

/** The built-in suites shipped with the package. */
export const BUILTIN_SCENARIOS = fileURLToPath(new URL('../../scenarios', import.meta.url));

export const DEFAULTS = { consecutive: 3, settleTimeoutMs: 10_000, parallel: 4 } as const;

export interface RunOptions {
  /** Scenario files or directories; default: the built-in suites. */
  paths?: string[];
  /** A target name (created with `targetOptions`) or a ready Target instance. Default: lab. */
  target?: TargetName | Target;
  targetOptions?: TargetOptions;
  /** `--scenario` / `--tag` patterns: regular expressions, a leading `!` excludes. */
  scenario?: string[];
  tag?: string[];
  /** Scenarios deployed at the same time (default 4). */
  parallel?: number;
  keep?: boolean;
  /** Start no further scenario after one is FAIL or ERROR; the rest are SKIPPED with the reason. */
  failFast?: boolean;
  settleTimeoutMs?: number;
  consecutive?: number;
  /** Client timeouts per probe class (engine/timeouts.ts); unset: the agent's 2 s connect, 5 s total. */
  timeouts?: ProbeTimeouts;
  /** Abort (Ctrl-C): probing stops, everything deployed is undeployed, the result is marked incomplete. */
  signal?: AbortSignal;
  onEvent?: OnEvent;
  /** Scenario loader; default: src/scenario/loader.ts. */
  load?: Load;
}

function positiveInt(name: string, value: number | undefined, fallback: number, errors: string[]): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) errors.push(`${name} must be a whole number of at least 1 (got ${value})`);
  return value;
}

export async function run(options: RunOptions = {}): Promise<RunResult> {
  const startedAt = new Date();
  const signal = options.signal ?? new AbortController().signal;
  // One signal is watched by every wait of the run (probe back-offs, watches, exec streams) at once, by design.
  setMaxListeners(0, signal);
  const listener: OnEvent = options.onEvent ?? (() => {});
  // A reporter that throws (a closed stdout, a bug) must not abort a run midway and skip its cleanup.
  const onEvent: OnEvent = (e) => {
    try {
      listener(e);
    } catch {
      /* the event is lost for that listener; the run and its teardown go on */
    }
  };
  const errors: string[] = [];
  const settings = {
    consecutive: positiveInt('--consecutive', options.consecutive, DEFAULTS.consecutive, errors),
    settleTimeoutMs: options.settleTimeoutMs ?? DEFAULTS.settleTimeoutMs,
    parallel: positiveInt('--parallel', options.parallel, DEFAULTS.parallel, errors),
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
  };
  if (options.timeouts) errors.push(...checkTimeouts(options.timeouts));
  if (!(settings.settleTimeoutMs >= 0)) errors.push(`--settle-timeout must be a duration of 0 or more (got ${settings.settleTimeoutMs} ms)`);
  const scenarioFilter = compileFilters('--scenario', options.scenario ?? []);
  const tagFilter = compileFilters('--tag', options.tag ?? []);
  errors.push(...scenarioFilter.errors, ...tagFilter.errors);
  const targetName: TargetName = typeof options.target === 'object' ? options.target.name : (options.target ?? 'lab');
  const finish = (scenarios: ScenarioResult[], target: RunResult['target'], extra: Partial<RunResult> = {}): RunResult => {
    const summary = summarize(scenarios);
    const interrupted = signal.aborted;
    const result: RunResult = {
      formatVersion: 1,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      target,
      settings,
      incomplete: interrupted,
      inputErrors: errors,
      scenarios,
      summary,
      probePhase: { wallMs: 0, probes: 0, attempts: 0 },
      exitStatus: exitStatusOf({ interrupted, inputErrors: errors, summary }),
      ...(target.istioVersion ? { istioRelease: releaseStatus(target.istioVersion) } : {}),
      ...extra,
    };
    onEvent({ kind: 'run-done', result });
    return result;
  };
  if (errors.length > 0) return finish([], { name: targetName });

  const loaded = await (options.load ?? loadWithScenarioLoader)(options.paths?.length ? options.paths : [BUILTIN_SCENARIOS]);
  errors.push(...loaded.errors);
  const selected = select(loaded.scenarios, { scenario: scenarioFilter.filters, tag: tagFilter.filters });
  errors.push(...validateWhen(selected));
  if (errors.length === 0 && selected.length === 0) {
    errors.push(loaded.scenarios.length === 0 ? 'no scenarios found in the given paths' : 'no scenario matches the --scenario/--tag filters');
  }
  if (errors.length > 0) return finish([], { name: targetName });
  return runOnTarget(options, selected, settings, signal, onEvent, finish);
}

type Finish = (scenarios: ScenarioResult[], target: RunResult['target'], extra?: Partial<RunResult>) => RunResult;

async function runOnTarget(
  options: RunOptions,
  selected: LoadedScenario[],
  settings: RunResult['settings'],
  signal: AbortSignal,
  onEvent: OnEvent,
  finish: Finish,
): Promise<RunResult> {
  const keep = options.keep ?? false;
  let target: Target;
  let info: TargetInfo;
  const name: TargetName = typeof options.target === 'object' ? options.target.name : (options.target ?? 'lab');
  try {
    target = typeof options.target === 'object' ? options.target : await createTarget(name, { ...options.targetOptions, keep });
    info = await target.prepare(signal);
  } catch (err) {
    const reason = `the ${name} target could not be prepared: ${err instanceof TargetError && err.hint ? `${err.message} (${err.hint})` : (err as Error).message}`;
    const plans = selected.map((loaded): ScenarioPlan => ({ kind: 'refused', loaded, reason }));
    return finish(
      plans.map((p) => notRun(p, signal.aborted ? 'SKIPPED' : 'ERROR', signal.aborted ? 'interrupted before a verdict' : reason)),
      { name },
    );
  }
  const plans = selected.map((l) => planScenario(l, info, (s) => target.check(s)));
  onEvent({ kind: 'run-start', target: info, scenarios: plans.length, probes: plans.reduce((n, p) => n + allProbes(p.loaded.scenario).length, 0) });
  const stats = { probes: 0, attempts: 0, intervals: [] as Array<[number, number]> };
  // Nothing propagates on a target that applies configuration synchronously: waiting out the settle timeout
  // would only delay a FAIL (consecutive identical observations still decide every verdict).
  const converge = info.appliesSynchronously ? { ...settings, settleTimeoutMs: 0 } : settings;
  const ctx: ExecuteContext = {
    target,
    settings: converge,
    keep,
    signal,
    onEvent,
    stats,
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
  };
  let results: ScenarioResult[];
  try {
    results = await schedule(plans, settings.parallel, options.failFast ?? false, signal, (p) => executeScenario(p, ctx), onEvent);
  } finally {
    // Also when a scenario threw: the target never outlives the run unless --keep asks for it.
    if (!keep) {
      try {
        await target.teardown();
      } catch (err) {
        onEvent({ kind: 'log', message: `teardown of the ${name} target failed: ${(err as Error).message}` });
      }
    }
  }
  return finish(results, info, { probePhase: { wallMs: unionMs(stats.intervals), probes: stats.probes, attempts: stats.attempts } });
}

/** Total length covered by possibly overlapping [start, end] intervals. */
export function unionMs(intervals: Array<[number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of sorted) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total;
}

/** Runs plans with at most `parallel` at once, in input order; stops starting new ones on abort or fail-fast. */
async function schedule(
  plans: ScenarioPlan[],
  parallel: number,
  failFast: boolean,
  signal: AbortSignal,
  execute: (p: ScenarioPlan) => Promise<ScenarioResult>,
  onEvent: OnEvent,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = new Array(plans.length);
  let next = 0;
  let stoppedBy: string | undefined;
  const worker = async () => {
    while (next < plans.length) {
      const i = next++;
      const plan = plans[i];
      if (signal.aborted) results[i] = notRun(plan, 'SKIPPED', 'interrupted before a verdict');
      else if (stoppedBy) results[i] = notRun(plan, 'SKIPPED', `not run: --fail-fast stopped the run after ${stoppedBy}`);
      else {
        results[i] = await execute(plan);
        const v = results[i].verdict;
        if (failFast && (v === 'FAIL' || v === 'ERROR')) stoppedBy ??= `${results[i].name} (${v})`;
      }
      onEvent({ kind: 'scenario-done', result: results[i] });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, plans.length) }, worker));
  return results;
}
