/**
 * One self-contained HTML file: summary, each scenario's claim/source/verdict, a truth table of sources ×
 * destinations (port/protocol) with expected vs observed in each cell, evidence and attempts on click.
 */
import { describeFacts } from '../engine/converge.js';
import type { ProbeJudgement, RunResult, ScenarioResult, Verdict } from '../engine/types.js';
import { STYLE, SCRIPT } from './html-assets.js';
import { describeExpectation, duration, evidenceText, probeLabel } from './text.js';

export function htmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": '#39' }[c]};`);
}

const h = htmlEscape;
const VERDICTS: Verdict[] = ['PASS', 'FAIL', 'FLAKY', 'ERROR', 'SKIPPED'];
const badge = (v: Verdict) => `<span class="v v-${v}">${v}</span>`;

/** Row key of the truth table: the source, and how it sends (uid, bypass). */
function sourceKey(p: ProbeJudgement): string {
  return [p.from, p.as ? `uid ${p.as.user}` : '', p.bypass ?? ''].filter(Boolean).join(' · ');
}

function destinationKey(p: ProbeJudgement): string {
  return `${p.to}${p.port === undefined ? '' : `:${p.port}`}/${p.protocol}`;
}

/** "reach", "blocked: reset", "reach, mtls, via sidecar, 200" */
function shortExpected(p: ProbeJudgement): string {
  const e = p.expected;
  if (!e.reach) return `blocked${e.failure ? `: ${e.failure}` : ''}${e.status ? ` ${e.status}` : ''}`;
  const parts = ['reach'];
  if (e.mtls !== undefined) parts.push(e.mtls ? 'mTLS' : 'plaintext');
  if (e.peer !== undefined) parts.push(`peer ${e.peer.replace(/^spiffe:\/\/[^/]+\//, '')}`);
  if (e.viaSidecar !== undefined) parts.push(e.viaSidecar ? 'via sidecar' : 'direct');
  if (e.status !== undefined) parts.push(String(e.status));
  return parts.join(', ');
}

function shortObserved(p: ProbeJudgement): string {
  if (p.verdict === 'SKIPPED') return 'skipped';
  if (!p.observed) return p.verdict === 'ERROR' ? 'error' : 'nothing observed';
  const o = p.observed;
  if (!o.reach) return `blocked: ${o.outcome}`;
  const parts = ['reach'];
  parts.push(o.mtls ? 'mTLS' : 'plaintext');
  if (o.viaSidecar !== undefined) parts.push(o.viaSidecar ? 'via sidecar' : 'direct');
  if (o.status !== undefined) parts.push(String(o.status));
  return parts.join(', ');
}

function probeId(s: ScenarioResult, p: ProbeJudgement): string {
  return `probe-${s.name}-${p.name}`;
}

function truthTable(s: ScenarioResult): string {
  const rows = [...new Set(s.probes.map(sourceKey))];
  const cols = [...new Set(s.probes.map(destinationKey))];
  const head = `<tr><th>source ╲ destination</th>${cols.map((c) => `<th>${h(c)}</th>`).join('')}</tr>`;
  const body = rows
    .map((r) => {
      const cells = cols.map((c) => {
        const here = s.probes.filter((p) => sourceKey(p) === r && destinationKey(p) === c);
        const links = here.map(
          (p) =>
            `<a class="cell c-${p.verdict}" href="#${h(probeId(s, p))}" data-probe="${h(probeId(s, p))}" title="${h(p.reason)}">` +
            `<span class="n">${h(probeLabel(p))}</span> ${badge(p.verdict)}<span class="exp">expected: ${h(shortExpected(p))}</span>` +
            `<span class="obs">observed: ${h(shortObserved(p))}</span></a>`,
        );
        return `<td>${links.join('')}</td>`;
      });
      return `<tr><th>${h(r)}</th>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<table class="truth"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function attemptsTable(p: ProbeJudgement): string {
  if (p.attempts.length === 0) return '<p class="reason">no attempts (not run)</p>';
  const rows = p.attempts
    .map((a) => {
      const verdict = a.evaluation.kind === 'infrastructure' ? 'infrastructure failure' : a.evaluation.matched ? 'as expected' : 'not as expected';
      const facts = a.evaluation.kind === 'judged' ? describeFacts(a.evaluation.facts) : a.evaluation.reason;
      return `<tr><td>${a.attempt}</td><td>+${h(duration(a.atMs))}</td><td>${a.phase}</td><td><code>${h(a.nonce)}</code></td><td>${h(verdict)}</td><td>${h(facts)}</td></tr>`;
    })
    .join('');
  return `<table class="attempts"><thead><tr><th>#</th><th>at</th><th>phase</th><th>nonce</th><th>reading</th><th>facts</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function probeDetails(s: ScenarioResult, p: ProbeJudgement): string {
  return (
    `<details class="probe" id="${h(probeId(s, p))}"><summary>${badge(p.verdict)} <b>${h(probeLabel(p))}</b> — ${h(p.reason)}</summary>` +
    `<p>expected: <code>${h(describeExpectation(p.expected))}</code></p>` +
    `<pre>${h(evidenceText(p, false))}</pre>${attemptsTable(p)}</details>`
  );
}

function scenarioSection(s: ScenarioResult): string {
  const diagnostics = s.diagnostics.length
    ? `<details><summary>diagnostics (${s.diagnostics.length})</summary>${s.diagnostics.map((d) => `<h4>${h(d.title)}</h4><pre>${h(d.body)}</pre>`).join('')}</details>`
    : '';
  return `<section class="scenario" id="scenario-${h(s.name)}" data-verdict="${s.verdict}">
<h2>${badge(s.verdict)} ${h(s.name)}${s.title ? ` — ${h(s.title)}` : ''}</h2>
${s.claim ? `<p class="claim">“${h(s.claim)}”</p>` : ''}
${s.source ? `<p class="source">source: ${h(s.source)}</p>` : ''}
${(s.features ?? []).map((f) => `<p class="reason feature">${h(f.resource)} uses “${h(f.feature)}”, ${h(f.maturity)} in Istio's feature status: weaker security guarantees <span class="source">(${h(f.source)})</span></p>`).join('')}
${s.reason && s.verdict !== 'PASS' ? `<p class="reason">${h(s.reason)}</p>` : ''}
<p class="source">${[s.location ?? '', s.tags.join(', '), duration(s.durationMs)].filter(Boolean).map(h).join(' · ')}</p>
${truthTable(s)}
${s.probes.map((p) => probeDetails(s, p)).join('\n')}
${diagnostics}
</section>`;
}

function summary(r: RunResult): string {
  const box = (label: string, c: RunResult['summary']['scenarios']) =>
    VERDICTS.map((v) => `<div class="count" data-count="${label}-${v}"><b>${c[v]}</b>${badge(v)} ${label}</div>`).join('');
  const overview = r.scenarios
    .map(
      (s) =>
        `<tr><td>${badge(s.verdict)}</td><td><a href="#scenario-${h(s.name)}">${h(s.name)}</a></td><td>${h(s.title ?? '')}</td><td>${s.probes.length}</td></tr>`,
    )
    .join('');
  return (
    `<div class="summary">${box('scenarios', r.summary.scenarios)}</div><div class="summary">${box('probes', r.summary.probes)}</div>` +
    (overview
      ? `<table class="overview"><thead><tr><th>verdict</th><th>scenario</th><th>title</th><th>probes</th></tr></thead><tbody>${overview}</tbody></table>`
      : '')
  );
}

export function toHtml(r: RunResult): string {
  const notes = (r.target.notes ?? []).map((n) => `<div>${h(n)}</div>`).join('');
  const banners = [
    r.incomplete ? '<p class="banner" id="incomplete">This run was interrupted: the report is incomplete.</p>' : '',
    r.inputErrors.length ? `<p class="banner">Invalid input, nothing was deployed:</p><pre>${h(r.inputErrors.join('\n'))}</pre>` : '',
  ].join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>meshprobe report — ${r.summary.scenarios.FAIL + r.summary.scenarios.ERROR > 0 ? 'not as claimed' : 'as claimed'}</title>
<style>${STYLE}</style></head>
<body><header><h1>meshprobe report</h1>
<div class="meta">target ${h(r.target.name)}${r.target.istioVersion ? ` · Istio ${h(r.target.istioVersion)}` : ''} · started ${h(r.startedAt)} · ${h(duration(r.durationMs))} · exit status ${r.exitStatus} · N=${r.settings.consecutive}, settle ${h(duration(r.settings.settleTimeoutMs))}</div>
${notes ? `<div class="meta">${notes}</div>` : ''}${r.istioRelease ? `<div class="meta" id="istio-release" data-state="${h(r.istioRelease.state)}">release: ${h(r.istioRelease.text)} <span class="source">(${h(r.istioRelease.source)})</span></div>` : ''}</header>
<main>${banners}${summary(r)}
${r.scenarios.map(scenarioSection).join('\n')}
</main><script>${SCRIPT}</script></body></html>
`;
}
