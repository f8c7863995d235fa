/**
 * Runs one planned scenario on a target: deploy, converge every probe batch concurrently, diagnose what did not
 * pass, undeploy. The only engine module with side effects besides run.ts; the decisions are in converge.ts and
 * evaluate.ts.
 */
import { featureFlags } from '../model/index.js';
import { randomBytes } from 'node:crypto';
import type { Probe, Scenario } from '../scenario/schema.js';
import { allProbes, probesWithSteps } from '../scenario/steps.js';
import { TargetError, type AttemptResult, type Deployment, type Diagnostic, type ProbeAttempt, type Target } from '../targets/target.js';
import { advance, initialState, nextDelayMs, type ConvergeSettings, type ConvergeState } from './converge.js';
import { evaluate } from './evaluate.js';
import type { OnEvent } from './events.js';
import { batches, type Batch, type ScenarioPlan } from './plan.js';
import type { AttemptRecord, Evaluation, Evidence, ProbeJudgement, ScenarioResult, Verdict } from './types.js';
import { requestTimeouts, type ProbeTimeouts } from './timeouts.js';
import { scenarioVerdict } from './verdict.js';

export interface ExecuteContext {
  target: Target;
  settings: ConvergeSettings;
  keep: boolean;
  signal: AbortSignal;
  onEvent: OnEvent;
  /** Counts probes and attempts of the probing phase (for probe_phase_probes_per_s). */
  stats: { probes: number; attempts: number; intervals: Array<[number, number]> };
  /** Client timeouts per probe class (--connect-timeout, --response-timeout). */
  timeouts?: ProbeTimeouts;
}

export function newNonce(): string {
  return `mp-${randomBytes(8).toString('hex')}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function message(err: unknown): string {
  if (err instanceof TargetError) return err.hint ? `${err.message} (${err.hint})` : err.message;
  return err instanceof Error ? err.message : String(err);
}

function judgement(probe: Probe, verdict: Verdict, reason: string, attempts: AttemptRecord[] = [], durationMs = 0, step?: string): ProbeJudgement {
  // The deciding attempt: attempts sent in the same round after the verdict are kept but decide nothing.
  const last = attempts.filter((a) => a.phase !== 'after-verdict').at(-1);
  const judged = last?.evaluation.kind === 'judged' ? last.evaluation : undefined;
  const j: ProbeJudgement = {
    name: probe.name,
    from: probe.from,
    to: probe.to,
    protocol: probe.protocol,
    expected: probe.expect,
    verdict,
    reason,
    observed: judged?.facts ?? null,
    checks: judged?.checks ?? [],
    attempts,
    durationMs,
  };
  if (step !== undefined) j.step = step;
  if (probe.port !== undefined) j.port = probe.port;
  if (probe.as) j.as = probe.as;
  if (probe.bypass) j.bypass = probe.bypass;
  if (last) j.evidence = evidenceOf(last);
  return j;
}

/** The request line as the client wrote it: `http.raw` verbatim, otherwise what node's client sends. */
function sentLine(http: NonNullable<NonNullable<AttemptRecord['client']>['request']['http']>): string {
  if (http.raw) return `${http.raw.method} ${http.raw.requestTarget} HTTP/${http.raw.version ?? '1.1'}`;
  return `${http.method ?? 'GET'} ${http.path ?? '/'} HTTP/1.1`;
}

function evidenceOf(a: AttemptRecord): Evidence {
  const seen = a.arrived[0];
  const e: Evidence = { outcome: a.client ? a.client.outcome.kind : 'none', arrived: seen !== undefined };
  if (a.client) {
    e.timings = a.client.timings;
    e.bytes = a.client.bytes;
    if (a.client.early) e.decidedEarly = a.client.early.by;
    if (a.client.outcome.kind === 'http' || a.client.outcome.kind === 'ok') {
      const status = a.client.outcome.status;
      if (status !== undefined) e.outcome = `${a.client.outcome.kind} ${status}`;
    }
  }
  if (seen) {
    e.sourceSeen = seen.source;
    if (seen.peer) e.peer = seen.peer;
    if (seen.http?.xfcc) e.xfcc = seen.http.xfcc.raw;
  }
  const req = a.client?.request;
  if (req && (req.protocol === 'http' || req.protocol === 'https')) {
    const received = seen?.http?.requestLine ?? (seen?.http ? `${seen.http.method} ${seen.http.path}` : undefined);
    e.request = { sent: sentLine(req.http ?? {}), ...(received ? { received } : {}) };
  }
  return e;
}

interface Tracked {
  probe: Probe;
  state: ConvergeState;
  attempts: AttemptRecord[];
  dueAt: number;
}

/**
 * Attempts to send for a probe in the next round. The first round sends N at once and a confirming probe sends
 * what its streak still lacks: a target call per round is the expensive part (an exec, a process start), and N
 * independent observations judge the same whether they travel in one call or in N. While settling, one at a time.
 */
export function attemptsWanted(state: ConvergeState, consecutive: number): number {
  if (state.phase === 'settling') return state.attempts === 0 ? consecutive : 1;
  if (state.phase === 'confirming') return Math.max(1, consecutive - state.streak);
  return 0;
}

/** Converges every probe of one batch; returns judgements for those decided (an abort leaves the rest out). */
async function runBatch(ctx: ExecuteContext, dep: Deployment, batch: Batch, scenario: string): Promise<ProbeJudgement[]> {
  const start = Date.now();
  const tracked: Tracked[] = batch.probes.map((probe) => ({ probe, state: initialState, attempts: [], dueAt: start }));
  const done: ProbeJudgement[] = [];
  for (;;) {
    const active = tracked.filter((t) => t.state.phase !== 'decided');
    if (active.length === 0 || ctx.signal.aborted) break;
    const now = Date.now();
    const due = active.filter((t) => t.dueAt <= now);
    if (due.length === 0) {
      await sleep(Math.min(...active.map((t) => t.dueAt)) - now, ctx.signal);
      continue;
    }
    const planned = due.map((t) => {
      const n = attemptsWanted(t.state, ctx.settings.consecutive);
      const timeoutMs = requestTimeouts(t.probe.protocol, ctx.timeouts);
      return Array.from(
        { length: n },
        (_, k): ProbeAttempt => ({ probe: t.probe, nonce: newNonce(), attempt: t.attempts.length + 1 + k, ...(timeoutMs ? { timeoutMs } : {}) }),
      );
    });
    const results = await probeOnce(ctx, dep, planned.flat());
    if (results === 'aborted') break;
    ctx.stats.attempts += planned.flat().length;
    const finished = Date.now();
    due.forEach((t, i) => {
      for (const a of planned[i]) record(ctx, t, a, results, now - start, finished - start);
      if (t.state.phase === 'decided') {
        const j = judgement(t.probe, t.state.verdict, t.state.reason, t.attempts, finished - start);
        done.push(j);
        ctx.stats.probes += 1;
        ctx.onEvent({ kind: 'probe-done', scenario, probe: j });
      } else {
        t.dueAt = finished + nextDelayMs(t.state, finished - start, ctx.settings);
      }
    });
  }
  return done;
}

/** Reads one attempt's result, feeds it to the probe's state machine (in attempt order) and keeps it. */
function record(
  ctx: ExecuteContext,
  t: Tracked,
  a: ProbeAttempt,
  results: Map<string, AttemptResult> | string,
  atMs: number,
  elapsedMs: number,
): void {
  const result = results instanceof Map ? results.get(a.nonce) : undefined;
  const stall = result?.client.harness?.stall;
  // A harness that stalled cannot tell a blocked flow from its own delay: its timeout is no observation.
  const evaluation: Evaluation = stall
    ? { kind: 'infrastructure', reason: `attempt ${a.attempt}: ${stall}` }
    : result
      ? evaluate(t.probe, result)
      : {
          kind: 'infrastructure',
          reason: typeof results === 'string' ? results : `the ${ctx.target.name} target returned no result for attempt ${a.attempt}`,
        };
  const takenIn = t.state.phase === 'settling' ? 'settle' : t.state.phase === 'confirming' ? 'confirm' : 'after-verdict';
  t.state = advance(t.state, evaluation, elapsedMs, ctx.settings);
  t.attempts.push({
    attempt: a.attempt,
    nonce: a.nonce,
    atMs,
    ...(result ? { client: result.client } : {}),
    arrived: result?.arrived ?? [],
    evaluation,
    phase: takenIn,
  });
}

/** One call to target.probe: results by nonce, an infrastructure failure message, or 'aborted'. */
async function probeOnce(ctx: ExecuteContext, dep: Deployment, attempts: ProbeAttempt[]): Promise<Map<string, AttemptResult> | string | 'aborted'> {
  try {
    const results = await ctx.target.probe(dep, attempts, ctx.signal);
    return new Map(results.map((r) => [r.nonce, r]));
  } catch (err) {
    if (ctx.signal.aborted) return 'aborted';
    return `probing from ${attempts[0]?.probe.from} failed: ${message(err)}`;
  }
}

function baseResult(plan: ScenarioPlan): Omit<ScenarioResult, 'verdict' | 'probes' | 'durationMs'> {
  const m = plan.loaded.scenario.metadata;
  const r: Omit<ScenarioResult, 'verdict' | 'probes' | 'durationMs'> = {
    name: m.name,
    tags: m.tags ?? [],
    location: `${plan.loaded.file}:${plan.loaded.line}`,
    diagnostics: [],
  };
  if (m.title !== undefined) r.title = m.title;
  if (m.claim !== undefined) r.claim = m.claim;
  if (m.source !== undefined) r.source = m.source;
  const features = featureFlags(plan.loaded.scenario.spec);
  if (features.length > 0) r.features = features;
  return r;
}

/** A scenario that is not run: every probe gets the same verdict and reason. */
export function notRun(plan: ScenarioPlan, verdict: 'SKIPPED' | 'ERROR', reason: string): ScenarioResult {
  const probes = probesWithSteps(plan.loaded.scenario).map((p) => judgement(p.probe, verdict, reason, [], 0, p.step));
  return { ...baseResult(plan), verdict, reason, probes, durationMs: 0 };
}

export async function executeScenario(plan: ScenarioPlan, ctx: ExecuteContext): Promise<ScenarioResult> {
  if (plan.kind === 'skip') return notRun(plan, 'SKIPPED', plan.reason);
  if (plan.kind === 'refused') return notRun(plan, 'ERROR', plan.reason);
  const name = plan.loaded.scenario.metadata.name;
  const started = Date.now();
  const phase = (p: 'deploying' | 'probing' | 'diagnosing' | 'undeploying') => ctx.onEvent({ kind: 'scenario-phase', scenario: name, phase: p });
  ctx.onEvent({ kind: 'scenario-start', scenario: name, probes: plan.probes.length });
  phase('deploying');
  let dep: Deployment;
  try {
    dep = await ctx.target.deploy(deployable(plan.loaded.scenario), ctx.signal);
  } catch (err) {
    if (ctx.signal.aborted) return { ...notRun(plan, 'SKIPPED', 'interrupted before a verdict'), durationMs: Date.now() - started };
    return { ...notRun(plan, 'ERROR', `deploy failed: ${message(err)}`), durationMs: Date.now() - started };
  }
  const result = await probeAndJudge(plan, ctx, dep, phase);
  if (ctx.keep) {
    result.kept = ctx.target.access?.(dep) ?? [`deployment ${dep.id} was left up (--keep)`];
  } else {
    phase('undeploying');
    try {
      await ctx.target.undeploy(dep);
    } catch (err) {
      result.diagnostics.push({ title: 'undeploy failed', body: message(err) });
      result.verdict = 'ERROR';
      result.reason = `undeploy failed: ${message(err)}`;
    }
  }
  result.durationMs = Date.now() - started;
  return result;
}

async function probeAndJudge(
  plan: Extract<ScenarioPlan, { kind: 'run' }>,
  ctx: ExecuteContext,
  dep: Deployment,
  phase: (p: 'probing' | 'diagnosing') => void,
): Promise<ScenarioResult> {
  phase('probing');
  const probingStarted = Date.now();
  const judged = plan.loaded.scenario.spec.steps
    ? await runSteps(plan, ctx, dep)
    : (await Promise.all(plan.batches.map((b) => runBatch(ctx, dep, b, plan.loaded.scenario.metadata.name)))).flat();
  ctx.stats.intervals.push([probingStarted, Date.now()]);
  const byName = new Map(judged.map((j) => [j.name, j]));
  const probes = plan.probes.map(
    (p) => byName.get(p.probe.name) ?? judgement(p.probe, 'SKIPPED', p.skip ?? 'interrupted before a verdict', [], 0, p.step),
  );
  let rolled = scenarioVerdict(probes);
  const unjudged = probes.filter((p) => p.reason === 'interrupted before a verdict').length;
  // An interrupted scenario is not a PASS: some of its claims were never checked. Findings (FAIL, ERROR) stand.
  if (unjudged > 0 && rolled.verdict === 'PASS') {
    rolled = { verdict: 'SKIPPED', reason: `interrupted before a verdict (${probes.length - unjudged} of ${probes.length} probes judged)` };
  }
  const result: ScenarioResult = { ...baseResult(plan), verdict: rolled.verdict, probes, durationMs: 0 };
  if (rolled.reason) result.reason = rolled.reason;
  const troubled = probes.filter((p) => p.verdict === 'FAIL' || p.verdict === 'FLAKY' || p.verdict === 'ERROR').map((p) => p.name);
  if (troubled.length > 0 && !ctx.signal.aborted) {
    phase('diagnosing');
    result.diagnostics = await diagnose(ctx.target, dep, troubled);
  }
  return result;
}

/**
 * What a target deploys: the top-level resources, and every probe of every step (a target prepares its pods for
 * the probes they will send, e.g. the capabilities to change uid), so a step only changes manifests.
 */
export function deployable(s: Scenario): Scenario {
  return s.spec.steps ? { ...s, spec: { ...s.spec, probes: allProbes(s) } } : s;
}

/** Steps in order: the change, then that step's probes converge; a step that cannot be applied ends the run of the rest. */
async function runSteps(plan: Extract<ScenarioPlan, { kind: 'run' }>, ctx: ExecuteContext, dep: Deployment): Promise<ProbeJudgement[]> {
  const out: ProbeJudgement[] = [];
  const name = plan.loaded.scenario.metadata.name;
  let broken: string | undefined;
  for (const st of plan.loaded.scenario.spec.steps ?? []) {
    const mine = plan.probes.filter((p) => p.step === st.name && !p.skip).map((p) => p.probe);
    if (ctx.signal.aborted) break;
    if (!broken) {
      try {
        if (!ctx.target.applyStep) throw new TargetError(`the ${ctx.target.name} target cannot apply steps`);
        ctx.onEvent({ kind: 'log', message: `${name}: step ${st.name}: applying ${st.apply.length}, deleting ${st.delete.length}` });
        await ctx.target.applyStep(dep, st, ctx.signal);
      } catch (err) {
        broken = `step ${st.name} could not be applied: ${message(err)}`;
      }
    }
    if (broken) {
      out.push(...mine.map((p) => judgement(p, 'ERROR', broken!, [], 0, st.name)));
      continue;
    }
    const judged = (await Promise.all(batches(mine).map((b) => runBatch(ctx, dep, b, name)))).flat();
    out.push(...judged.map((j) => ({ ...j, step: st.name })));
  }
  return out;
}

async function diagnose(target: Target, dep: Deployment, probeNames: string[]): Promise<Diagnostic[]> {
  try {
    return await target.diagnose(dep, probeNames);
  } catch (err) {
    return [{ title: 'diagnostics unavailable', body: `the ${target.name} target could not collect diagnostics: ${message(err)}` }];
  }
}
