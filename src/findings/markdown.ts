/**
 * finding.md: the claim, where it was observed (target, Istio version, mesh settings), the policy YAML of the
 * minimal scenario, how to reproduce it, expected vs observed, the evidence of every attempt of the original run
 * and of the minimal one, and the model's explanation. Values from the scenario are shown inside code spans or
 * fenced blocks, never as Markdown of their own.
 */
import { featureFlags, releaseStatus } from '../model/index.js';
import { stringify } from 'yaml';
import type { AttemptRecord, ProbeJudgement, RunResult } from '../engine/types.js';
import { describePrediction, formatExplanation } from '../predict/expectation.js';
import type { Prediction } from '../predict/types.js';
import type { Scenario } from '../scenario/schema.js';

export interface FindingInput {
  readonly original: { scenario: Scenario; judgement: ProbeJudgement; target: RunResult['target']; source: string };
  readonly minimal: { scenario: Scenario; judgement?: ProbeJudgement; control?: ProbeJudgement; target?: RunResult['target']; error?: string };
  readonly prediction?: Prediction;
  readonly notes: readonly string[];
  readonly reproduced: boolean;
}

/** A code span that cannot be closed early by the value (backticks become a longer fence). */
export function code(value: string): string {
  const oneLine = value.replace(/[\r\n]+/g, ' ');
  const longest = Math.max(0, ...[...oneLine.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence} ${oneLine} ${fence}`;
}

function fenced(body: string, lang = ''): string {
  const longest = Math.max(2, ...[...body.matchAll(/`{3,}/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${body.replace(/\n$/, '')}\n${fence}`;
}

const facts = (j: ProbeJudgement | undefined) => (j?.observed ? JSON.stringify(j.observed) : 'nothing observed');

function attemptRow(a: AttemptRecord): string {
  const outcome = a.client ? a.client.outcome.kind : '-';
  const read =
    a.evaluation.kind === 'judged'
      ? a.evaluation.matched
        ? 'as expected'
        : `differs: ${a.evaluation.reason ?? ''}`
      : `infrastructure: ${a.evaluation.reason}`;
  const req = a.arrived[0]?.http?.requestLine;
  return `| ${a.attempt} | ${a.phase} | ${code(a.nonce)} | ${a.atMs} ms | ${code(outcome)} | ${a.arrived.length > 0 ? 'yes' : 'no'} | ${req ? code(req) : '-'} | ${code(read)} |`;
}

function attemptsTable(j: ProbeJudgement | undefined): string[] {
  if (!j) return ['(not run)'];
  const lines = [`Verdict **${j.verdict}**: ${code(j.reason)}`, ''];
  if (j.evidence?.request)
    lines.push(
      `Request sent: ${code(j.evidence.request.sent)}; received by the application: ${j.evidence.request.received ? code(j.evidence.request.received) : 'nothing'}`,
      '',
    );
  lines.push('| attempt | phase | nonce | at | client outcome | arrived | request line received | reading |', '|---|---|---|---|---|---|---|---|');
  lines.push(...j.attempts.map(attemptRow));
  return lines;
}

function settings(s: Scenario): string {
  const mesh = s.spec.mesh ?? {};
  return `outboundTrafficPolicy ${code(mesh.outboundTrafficPolicy ?? 'ALLOW_ANY')}, pathNormalization ${code(mesh.pathNormalization ?? 'BASE')}`;
}

export function findingMarkdown(f: FindingInput): string {
  const { original, minimal } = f;
  const j = original.judgement;
  const s = original.scenario;
  const p = minimal.scenario.spec.probes[0];
  const lines: string[] = [
    `# Finding: ${code(`${s.metadata.name}/${j.name}`)} — ${j.verdict}`,
    '',
    '## Claim',
    s.metadata.claim ? fenced(s.metadata.claim) : '(the scenario states no claim)',
    s.metadata.source ? `Source: ${code(s.metadata.source)}` : '',
    `Probe ${code(j.name)}: ${code(j.from)} → ${code(j.to)}${j.port !== undefined ? ` port ${j.port}` : ''} (${j.protocol}), expected ${code(JSON.stringify(j.expected))}.`,
    '',
    '## Where',
    `- original run: target ${code(original.target.name)}, Istio ${code(original.target.istioVersion ?? 'unknown')} (${code(original.source)})`,
    minimal.target
      ? `- minimal scenario run: target ${code(minimal.target.name)}, Istio ${code(minimal.target.istioVersion ?? 'unknown')}`
      : '- minimal scenario: not run',
    `- mesh settings: ${settings(minimal.scenario)}`,
    ...(original.target.istioVersion ? [`- release: ${code(releaseStatus(original.target.istioVersion).text)}`] : []),
    ...featureFlags(minimal.scenario.spec).map((ff) => `- ${code(ff.resource)} uses ${code(ff.feature)}, ${ff.maturity} in Istio's feature status`),
    ...(original.target.notes ?? []).map((n) => `- note: ${code(n)}`),
    '',
    '## Minimal scenario',
    `${minimal.scenario.spec.workloads.length} workloads, ${minimal.scenario.spec.resources.length} manifests, ${minimal.scenario.spec.probes.length} probes (the original: ${s.spec.workloads.length}, ${s.spec.resources.length}, ${s.spec.probes.length}); the full file is scenario.yaml.`,
    ...f.notes.map((n) => `- ${code(n)}`),
    '',
    '### Policy',
    minimal.scenario.spec.resources.length
      ? fenced(minimal.scenario.spec.resources.map((r) => stringify(r)).join('---\n'), 'yaml')
      : '(no manifest decides this probe)',
    '',
    '### Probe',
    fenced(stringify(p), 'yaml'),
    '',
    '## Steps to reproduce',
    '1. `node bin/meshprobe.js run scenario.yaml` (add `--target kind` or `--target existing` for a cluster).',
    '2. By hand: `bash commands.sh lab` (as root) or `bash commands.sh cluster`; see the comments in commands.sh.',
    '',
    '## Expected vs observed',
    `- expected: ${code(JSON.stringify(j.expected))}`,
    `- observed in the original run: ${code(facts(j))}`,
    `- observed in the minimal scenario: ${minimal.error ? code(minimal.error) : code(facts(minimal.judgement))} — verdict ${minimal.judgement?.verdict ?? 'none'}`,
    `- positive control ${code(minimal.control?.name ?? '-')}: ${minimal.control?.verdict ?? 'not run'}`,
    `- **${f.reproduced ? 'reproduced' : 'NOT reproduced'}**: the minimal scenario ${f.reproduced ? 'gives' : 'does not give'} the original verdict ${j.verdict}.`,
    '',
    '## Evidence',
    '### Original run',
    ...attemptsTable(j),
    '',
    '### Minimal scenario',
    ...attemptsTable(minimal.judgement),
    '',
    "## The model's explanation",
    f.prediction ? `Predicted: ${code(describePrediction(f.prediction))}` : 'The model cannot read this scenario.',
    f.prediction ? fenced(formatExplanation(f.prediction)) : '',
    '',
  ];
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}
