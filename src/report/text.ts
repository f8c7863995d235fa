/** Plain-text renderings of evidence shared by the console and JUnit reports (one phrasing everywhere). */
import { describeFacts } from '../engine/converge.js';
import { describeClient } from '../engine/sentences.js';
import type { AttemptRecord, ProbeJudgement, RunResult } from '../engine/types.js';
import type { Expectation } from '../scenario/schema.js';

/** A probe as reports name it: `[step] name` in a scenario with steps (scenario-v1-additions: reports show each probe's step). */
export function probeLabel(p: { name: string; step?: string }): string {
  return p.step ? `[${p.step}] ${p.name}` : p.name;
}

export function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "reach: false, failure: reset" */
export function describeExpectation(e: Expectation): string {
  return Object.entries(e)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ');
}

/** "legacy/client → app/server:8080 (http) as uid 1337, flush-capture" */
export function describeProbePath(p: Pick<ProbeJudgement, 'from' | 'to' | 'port' | 'protocol' | 'as' | 'bypass'>): string {
  const port = p.port === undefined ? '' : `:${p.port}`;
  const how = [p.as ? `as uid ${p.as.user}` : '', p.bypass ?? ''].filter(Boolean).join(', ');
  return `${p.from} → ${p.to}${port} (${p.protocol})${how ? ` ${how}` : ''}`;
}

export function describeAttempt(a: AttemptRecord): string {
  const head = `#${a.attempt} +${duration(a.atMs)} ${a.phase} ${a.nonce}`;
  if (a.evaluation.kind === 'infrastructure') return `${head}: infrastructure failure: ${a.evaluation.reason}`;
  const seen = a.arrived[0];
  const server = seen
    ? `arrived from ${seen.source.address}:${seen.source.port}${seen.peer ? `, peer ${seen.peer.identity} (${seen.peer.basis})` : ''}`
    : 'nothing arrived';
  return `${head}: ${describeClient(a.client)}; ${server} → ${a.evaluation.matched ? 'as expected' : 'not as expected'} [${describeFacts(a.evaluation.facts)}]`;
}

/** The evidence block for one probe: expectation, observation, checks, client/server evidence, attempt log. */
export function evidenceText(p: ProbeJudgement, withAttempts = true): string {
  const lines = [
    `probe: ${describeProbePath(p)}`,
    `expected: ${describeExpectation(p.expected)}`,
    `observed: ${p.observed ? describeFacts(p.observed) : 'nothing (no attempt was judged)'}`,
    `verdict: ${p.verdict}: ${p.reason}`,
  ];
  for (const c of p.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.field}: expected ${c.expected}, observed ${c.observed}`);
  const e = p.evidence;
  if (e) {
    const t = e.timings;
    lines.push(
      `client: outcome ${e.outcome}${t ? `, total ${duration(t.totalMs)}${t.connectMs !== undefined ? `, connect ${duration(t.connectMs)}` : ''}` : ''}${e.bytes ? `, sent ${e.bytes.sent} B, received ${e.bytes.received} B` : ''}`,
    );
    if (e.decidedEarly) lines.push(`decided before the timeout: ${e.decidedEarly}`);
    if (e.request)
      lines.push(
        `request: sent ${JSON.stringify(e.request.sent)}, received ${e.request.received !== undefined ? JSON.stringify(e.request.received) : '(nothing arrived)'}`,
      );
    lines.push(
      `server: ${e.arrived ? `arrived, source seen ${e.sourceSeen?.address}:${e.sourceSeen?.port}` : 'nothing arrived'}${e.peer ? `, peer ${e.peer.identity} (${e.peer.basis})` : ''}${e.xfcc ? `, XFCC ${e.xfcc}` : ''}`,
    );
  }
  if (withAttempts && p.attempts.length) {
    lines.push(`attempts (${p.attempts.length}):`);
    for (const a of p.attempts) lines.push(`  ${describeAttempt(a)}`);
  }
  return lines.join('\n');
}

export function targetLine(r: RunResult): string {
  return `target ${r.target.name}${r.target.istioVersion ? `, Istio ${r.target.istioVersion}` : ''}`;
}
