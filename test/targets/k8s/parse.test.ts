import { describe, expect, test } from '@jest/globals';
import { classifyFindings, describeFinding, parseAnalyzeJson } from '../../../src/targets/k8s/analyze.js';
import { namespaceMap } from '../../../src/targets/k8s/names.js';
import { metricTotal, parsePrometheusText, XDS_REJECTS } from '../../../src/targets/k8s/prometheus.js';
import { parseQueryOutput } from '../../../src/targets/k8s/exec-probe.js';
import { strictMtls } from './fixtures.js';

const METRICS = `# HELP pilot_total_xds_rejects Total number of XDS responses from pilot rejected by proxy.
# TYPE pilot_total_xds_rejects counter
pilot_total_xds_rejects{type="lds"} 2
pilot_total_xds_rejects{type="cds"} 1
pilot_xds_pushes{type="eds"} 1.5e+03
pilot_k8s_reg_events{event="add",type="Services"} 12 1700000000000
process_start_time_seconds 1.7e+09
weird{a="x\\"y",b="line\\nbreak",c="comma,inside"} +Inf
`;

describe('parsePrometheusText', () => {
  test('samples with labels, escapes, exponents, timestamps and +Inf', () => {
    const s = parsePrometheusText(METRICS);
    expect(s).toHaveLength(6);
    expect(s[0]).toEqual({ name: 'pilot_total_xds_rejects', labels: { type: 'lds' }, value: 2 });
    expect(s[2].value).toBe(1500);
    expect(s[3]).toEqual({ name: 'pilot_k8s_reg_events', labels: { event: 'add', type: 'Services' }, value: 12 });
    expect(s[5].labels).toEqual({ a: 'x"y', b: 'line\nbreak', c: 'comma,inside' });
    expect(s[5].value).toBe(Infinity);
  });
  test('metricTotal sums label sets and is 0 for a counter not yet exported', () => {
    const s = parsePrometheusText(METRICS);
    expect(metricTotal(s, XDS_REJECTS)).toBe(3);
    expect(metricTotal(parsePrometheusText('# nothing\n'), XDS_REJECTS)).toBe(0);
  });
  test('garbage is an error naming the line', () => {
    expect(() => parsePrometheusText('ok 1\nthis is not a metric line\n')).toThrow(/line 2/);
    expect(() => parsePrometheusText('m{a="x} 1')).toThrow(/unterminated/);
  });
});

describe('istioctl analyze -o json', () => {
  const map = namespaceMap('r1', strictMtls());
  const app = map.forward.get('app')!;
  const out = JSON.stringify([
    {
      code: 'IST0101',
      level: 'Error',
      message: `Referenced selector not found: "app=nope"`,
      origin: `AuthorizationPolicy ${app}/allow-caller`,
      documentationUrl: 'https://istio.io/v1.26/docs/reference/config/analysis/ist0101/',
    },
    {
      code: 'IST0102',
      level: 'Info',
      message: `The namespace is not enabled for Istio injection.`,
      origin: `Namespace ${map.forward.get('legacy')}`,
    },
    { code: 'IST0144', level: 'Warning', message: 'User ID (UID) 1337 is reserved for the sidecar proxy.', origin: `Deployment server.${app}` },
  ]);

  test('errors make the scenario ERROR; warnings/info are kept for the report, in the scenario names', () => {
    const r = classifyFindings(parseAnalyzeJson(out), map);
    expect(r.errors.map(describeFinding)).toEqual([
      'Error IST0101 (AuthorizationPolicy app/allow-caller): Referenced selector not found: "app=nope"',
    ]);
    expect(r.others.map((f) => f.code)).toEqual(['IST0102', 'IST0144']);
    expect(r.others[1].origin).toBe('Deployment server.app');
  });
  test('empty output and [] mean no findings; non-JSON is an error', () => {
    expect(parseAnalyzeJson('')).toEqual([]);
    expect(parseAnalyzeJson('[]\n')).toEqual([]);
    expect(() => parseAnalyzeJson('Error: failed to fetch')).toThrow(/not JSON/);
    expect(() => parseAnalyzeJson('[{"code":1}]')).toThrow(/unexpected shape/);
  });
});

describe('agent query output', () => {
  const ok = { status: 'Success' };
  const obs = (nonce: string) => ({
    nonce,
    protocol: 'http',
    source: { address: '10.0.0.1', port: 1 },
    local: { address: '10.0.0.2', port: 80 },
    at: '1970-01-01T00:00:00.000Z',
  });
  test("the agent's own format (nonce → observations) is read, not taken for one observation", () => {
    const stdout = JSON.stringify({ a: [obs('a')], b: [], c: [obs('c'), obs('c')] });
    expect(parseQueryOutput('p', { stdout, stderr: '', status: ok }).map((o) => o.nonce)).toEqual(['a', 'c', 'c']);
  });
  test('anything else is an error, never "nothing arrived"', () => {
    expect(() => parseQueryOutput('p', { stdout: '{"x":1}', stderr: '', status: ok })).toThrow(/unexpected answer/);
    expect(() => parseQueryOutput('p', { stdout: 'ready', stderr: '', status: ok })).toThrow(/not JSON/);
  });
});
