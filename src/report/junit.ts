/**
 * JUnit XML: one testsuite per scenario, one testcase per probe. FAIL and FLAKY are <failure>, ERROR is <error>,
 * SKIPPED is <skipped>; the failure text carries the evidence and attempt log. Properties name the target, its
 * Istio version and the target's notes (e.g. what the lab emulates).
 */
import type { ProbeJudgement, RunResult, ScenarioResult } from '../engine/types.js';
import { evidenceText, probeLabel } from './text.js';

export function xmlEscape(s: string): string {
  // XML 1.0 cannot carry most control characters at all, even escaped.
  // eslint-disable-next-line no-control-regex
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`);
}

const attr = (name: string, value: string | number) => `${name}="${xmlEscape(String(value))}"`;
const secs = (ms: number) => (ms / 1000).toFixed(3);

function properties(r: RunResult, s: ScenarioResult): string {
  const props: Array<[string, string]> = [['target', r.target.name]];
  if (r.target.istioVersion) props.push(['istio.version', r.target.istioVersion]);
  if (r.istioRelease) props.push(['istio.release', r.istioRelease.text]);
  for (const f of s.features ?? []) props.push(['istio.feature', `${f.resource}: ${f.feature} (${f.maturity})`]);
  for (const note of r.target.notes ?? []) props.push(['target.note', note]);
  if (s.claim) props.push(['claim', s.claim]);
  if (s.source) props.push(['source', s.source]);
  if (s.location) props.push(['location', s.location]);
  if (r.incomplete) props.push(['incomplete', 'true']);
  return `    <properties>\n${props.map(([n, v]) => `      <property ${attr('name', n)} ${attr('value', v)}/>`).join('\n')}\n    </properties>\n`;
}

function testcase(s: ScenarioResult, p: ProbeJudgement): string {
  const open = `    <testcase ${attr('name', probeLabel(p))} ${attr('classname', s.name)} ${attr('time', secs(p.durationMs))}`;
  const diagnostics = s.diagnostics.map((d) => `\n--- ${d.title} ---\n${d.body}`).join('');
  const body = xmlEscape(evidenceText(p) + diagnostics);
  switch (p.verdict) {
    case 'PASS':
      return `${open}>\n      <system-out>${xmlEscape(evidenceText(p))}</system-out>\n    </testcase>`;
    case 'SKIPPED':
      return `${open}>\n      <skipped ${attr('message', p.reason)}/>\n    </testcase>`;
    case 'ERROR':
      return `${open}>\n      <error ${attr('message', p.reason)} type="ERROR">${body}</error>\n    </testcase>`;
    case 'FAIL':
    case 'FLAKY':
      return `${open}>\n      <failure ${attr('message', `${p.verdict}: ${p.reason}`)} ${attr('type', p.verdict)}>${body}</failure>\n    </testcase>`;
  }
}

function testsuite(r: RunResult, s: ScenarioResult): string {
  const n = (v: string) => s.probes.filter((p) => p.verdict === v).length;
  const head = [
    attr('name', s.name),
    attr('tests', s.probes.length),
    attr('failures', n('FAIL') + n('FLAKY')),
    attr('errors', n('ERROR')),
    attr('skipped', n('SKIPPED')),
    attr('time', secs(s.durationMs)),
    attr('timestamp', r.startedAt),
  ].join(' ');
  return `  <testsuite ${head}>\n${properties(r, s)}${s.probes.map((p) => testcase(s, p)).join('\n')}\n  </testsuite>`;
}

export function toJunit(r: RunResult): string {
  const p = r.summary.probes;
  const head = [
    attr('name', 'meshprobe'),
    attr('tests', p.total),
    attr('failures', p.FAIL + p.FLAKY),
    attr('errors', p.ERROR),
    attr('skipped', p.SKIPPED),
    attr('time', secs(r.durationMs)),
  ].join(' ');
  const suites = r.scenarios.map((s) => testsuite(r, s)).join('\n');
  const inputErrors = r.inputErrors.length
    ? `  <testsuite name="input" tests="1" failures="0" errors="1" skipped="0">\n    <testcase name="validate" classname="input">\n      <error message="invalid input" type="ERROR">${xmlEscape(r.inputErrors.join('\n'))}</error>\n    </testcase>\n  </testsuite>\n`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ${head}>\n${inputErrors}${suites}${suites ? '\n' : ''}</testsuites>\n`;
}
