/**
 * Hostile values in scenarios, policies directories and workloads files are refused at load time with
 * file:line:col: field: message — never handed on to a target.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicies, loadWorkloadsFile } from '../../src/predict/inputs.js';
import { formatError, loadScenarios } from '../../src/scenario/loader.js';

const HEREDOC = "10.244.0.0/16\nCOMMIT\nMESHPROBE_EOF\ntouch pwned\ncat <<'MESHPROBE_EOF'\n*filter";
const q = (s: unknown) => JSON.stringify(s);
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshprobe-values-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scenario(opts: { workload?: string; probe?: string; resources?: string }): string {
  return `apiVersion: meshprobe.io/v1
kind: Scenario
metadata:
  name: hostile
spec:
  namespaces:
    - name: app
  workloads:
    - name: server
      namespace: app
      ports: [{port: 8080, protocol: http}]
    - name: client
      namespace: app
${opts.workload ?? ''}
  resources:
${opts.resources ?? '    []'}
  probes:
    - name: p
      from: app/client
      to: app/server
      port: 8080
      protocol: http
${opts.probe ?? ''}
      expect: {reach: true}
`;
}

const netpol = (spec: string) => `    - apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: np, namespace: app}
      spec:
        podSelector: {}
${spec}`;

async function errorsOf(name: string, text: string): Promise<string[]> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  const r = await loadScenarios([file]);
  expect(r.scenarios).toEqual([]);
  for (const e of r.errors) {
    expect(e.file).toBe(file);
    expect(e.line).toBeGreaterThan(0);
  }
  return r.errors.map((e) => formatError(e).slice(file.length + 1));
}

describe('NetworkPolicy values in a scenario', () => {
  it('refuses a here-document or iptables payload in ipBlock.cidr and except, at the value', async () => {
    const errors = await errorsOf(
      'cidr-injection',
      scenario({
        resources: netpol(`        ingress:
          - from:
              - ipBlock: {cidr: ${q(HEREDOC)}}
              - ipBlock: {cidr: 10.0.0.0/8, except: [${q('10.9.9.9/32\n-I FORWARD 1 -j ACCEPT')}]}`),
      }),
    );
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^23:33: spec\.resources\[0\]\.spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: .*control character/);
    expect(errors[1]).toMatch(/^24:54: spec\.resources\[0\]\.spec\.ingress\[0\]\.from\[1\]\.ipBlock\.except\[0\]: /);
  });

  it.each([
    ['""', /is not a CIDR/],
    ['not-a-cidr', /is not a CIDR/],
    ['10.0.0.0/33', /is not a CIDR/],
    ['300.1.1.1/8', /is not a CIDR/],
  ])('refuses cidr %s', async (cidr, message) => {
    const errors = await errorsOf(
      `cidr-${cidr.replace(/\W/g, '_')}`,
      scenario({ resources: netpol(`        ingress: [{from: [{ipBlock: {cidr: ${cidr}}}]}]`) }),
    );
    expect(errors).toEqual([expect.stringMatching(/^21:44: spec\.resources\[0\]\.spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: /)]);
    expect(errors[0]).toMatch(message);
  });

  it('accepts IPv6 blocks and refuses an except outside cidr', async () => {
    const errors = await errorsOf(
      'except',
      scenario({
        resources: netpol(`        egress:
          - to: [{ipBlock: {cidr: "2001:db8::/32", except: ["2001:db8:1::/48"]}}]
          - to: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24, 10.0.0.0/16]}}]`),
      }),
    );
    expect(errors).toEqual([
      expect.stringMatching(
        /^23:57: spec\.resources\[0\]\.spec\.egress\[1\]\.to\[0\]\.ipBlock\.except\[0\]: "10\.1\.0\.0\/24" must be a strict subset of cidr/,
      ),
      expect.stringMatching(/^23:70: .*except\[1\]: "10\.0\.0\.0\/16" must be a strict subset/),
    ]);
  });

  it('refuses ports 0, 70000 and -1, bad port names and a wrong endPort', async () => {
    const errors = await errorsOf(
      'ports',
      scenario({
        resources: netpol(`        ingress:
          - ports: [{port: 0}, {port: 70000}, {port: -1}, {port: "Web;x"}, {port: http, endPort: 90}, {port: 100, endPort: 99}, {port: 100, endPort: 65536}, {port: web}, {port: 1, endPort: 65535}]`),
      }),
    );
    expect(errors.map((e) => e.replace(/^\d+:\d+: spec\.resources\[0\]\.spec\.ingress\[0\]\./, ''))).toEqual([
      'ports[0].port: must be a port from 1 to 65535 (got 0)',
      'ports[1].port: must be a port from 1 to 65535 (got 70000)',
      'ports[2].port: must be a port from 1 to 65535 (got -1)',
      expect.stringMatching(/^ports\[3\]\.port: "Web;x" is not a port name/),
      'ports[4].endPort: endPort needs a numeric port (not a port name, not absent)',
      'ports[5].endPort: must be greater than or equal to port (100)',
      'ports[6].endPort: must be a port from 1 to 65535 (got 65536)',
    ]);
  });

  it('refuses names that are not DNS-1123 (a traversal in metadata.name) and bad selector labels', async () => {
    const text = scenario({
      resources: `    - apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: ../../../../x, namespace: App}
      spec:
        podSelector: {matchLabels: {"a b": "x", ok: "-bad"}}`,
    });
    const errors = await errorsOf('names', text);
    expect(errors).toEqual([
      expect.stringMatching(/^18:24: spec\.resources\[0\]\.metadata\.name: "\.\.\/\.\.\/\.\.\/\.\.\/x" is not a DNS-1123 subdomain/),
      expect.stringMatching(/^18:50: spec\.resources\[0\]\.metadata\.namespace: "App" is not a DNS-1123 label/),
      expect.stringMatching(/^20:37: spec\.resources\[0\]\.spec\.podSelector\.matchLabels\.a b: label key/),
      expect.stringMatching(/^20:53: spec\.resources\[0\]\.spec\.podSelector\.matchLabels\.ok: "-bad" is not a label value/),
    ]);
  });
});

describe('Istio hosts and addresses', () => {
  it('checks ServiceEntry, Sidecar, VirtualService, DestinationRule and Gateway hosts', async () => {
    const errors = await errorsOf(
      'istio',
      scenario({
        resources: `    - apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: {name: se}
      spec: {hosts: ["api.partner.test", "foo*.x.com", "*"], addresses: ["10.0.0.1", "1.2.3"], endpoints: [{address: "evil host"}, {address: "10.1.1.1"}], resolution: STATIC, ports: [{number: 0, name: h, protocol: HTTP}]}
    - apiVersion: networking.istio.io/v1
      kind: Sidecar
      metadata: {name: sc}
      spec: {egress: [{hosts: ["./*", "istio-system/*", "reviews", "bad ns/x.y"]}]}
    - apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: {name: vs}
      spec: {hosts: ["*.example.com", "a..b"], http: [{route: [{destination: {host: "x\\ny"}}]}]}
    - apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: {name: dr}
      spec: {host: "a b"}
    - apiVersion: networking.istio.io/v1
      kind: Gateway
      metadata: {name: gw}
      spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*/app.example.com", "10.0.0.1", "x/y*"]}]}`,
      }),
    );
    const fields = errors.map((e) => e.replace(/^\d+:\d+: spec\.resources/, '').split(':')[0]);
    expect(fields).toEqual([
      '[0].spec.hosts[1]',
      '[0].spec.hosts[2]',
      '[0].spec.addresses[1]',
      '[0].spec.endpoints[0].address',
      '[0].spec.ports[0].number',
      '[1].spec.egress[0].hosts[2]',
      '[1].spec.egress[0].hosts[3]',
      '[2].spec.hosts[1]',
      '[2].spec.http[0].route[0].destination.host',
      '[3].spec.host',
      '[4].spec.servers[0].hosts[2]',
    ]);
  });
});

describe('workloads and probes in a scenario', () => {
  it('checks label keys and values, annotation keys and the capture annotation values', async () => {
    const errors = await errorsOf(
      'workload',
      scenario({
        workload: `      labels: {"bad key": v, app: ${q('x\ny')}}
      annotations:
        traffic.sidecar.istio.io/excludeOutboundIPRanges: ${q('10.0.0.0/8\n-A OUTPUT -j ACCEPT')}
        traffic.sidecar.istio.io/excludeInboundPorts: "0,80"
        traffic.sidecar.istio.io/excludeInterfaces: "../../x"
        "not a key": x`,
      }),
    );
    expect(errors.map((e) => e.replace(/^\d+:\d+: /, '').replace(/: .*/, ''))).toEqual([
      'spec.workloads[1].labels.bad key',
      'spec.workloads[1].labels.app',
      'spec.workloads[1].annotations.traffic.sidecar.istio.io/excludeOutboundIPRanges',
      'spec.workloads[1].annotations.traffic.sidecar.istio.io/excludeInboundPorts',
      'spec.workloads[1].annotations.traffic.sidecar.istio.io/excludeInterfaces',
      'spec.workloads[1].annotations.not a key',
    ]);
  });

  it('checks the HTTP method, path, header names and values of probes', async () => {
    const errors = await errorsOf(
      'http',
      scenario({
        probe: `      http:
        method: "GET /x HTTP/1.1\\r\\nHost: evil"
        path: "/a b"
        headers: {"X Bad": v, X-Ok: "a\\r\\nX-Injected: 1", X-Nul: "a\\u0000b"}`,
      }),
    );
    expect(errors.map((e) => e.replace(/^\d+:\d+: /, '').replace(/: .*/, ''))).toEqual([
      'spec.probes[0].http.method',
      'spec.probes[0].http.path',
      'spec.probes[0].http.headers.X Bad',
      'spec.probes[0].http.headers.X-Ok',
      'spec.probes[0].http.headers.X-Nul',
    ]);
  });
});

describe('policies directories and workloads files (diff, matrix)', () => {
  it('refuses a hostile cidr in a policies directory with file:line:col', async () => {
    const policies = join(dir, 'policies');
    mkdirSync(policies, { recursive: true });
    writeFileSync(
      join(policies, 'np.yaml'),
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: app}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: ${q(HEREDOC)}}}], ports: [{port: 70000}]}]
`,
    );
    const r = await loadPolicies(policies);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      expect.stringMatching(
        new RegExp(`^${join(policies, 'np.yaml')}:6:38: spec\\.ingress\\[0\\]\\.from\\[0\\]\\.ipBlock\\.cidr: .*control character`),
      ),
      `${join(policies, 'np.yaml')}:6:141: spec.ingress[0].ports[0].port: must be a port from 1 to 65535 (got 70000)`,
    ]);
  });

  it('refuses hostile labels and annotations in a workloads file', async () => {
    const file = join(dir, 'workloads.yaml');
    writeFileSync(
      file,
      `namespaces: [{name: app}]
workloads:
  - name: w
    namespace: app
    labels: {app: "a;b"}
    annotations: {traffic.sidecar.istio.io/includeOutboundIPRanges: "*,10.0.0.0/8\\n*nat"}
`,
    );
    const r = await loadWorkloadsFile(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      expect.stringMatching(new RegExp(`^${file}:5:19: workloads\\[0\\]\\.labels\\.app: "a;b" is not a label value`)),
      expect.stringMatching(
        new RegExp(`^${file}:6:69: workloads\\[0\\]\\.annotations\\.traffic\\.sidecar\\.istio\\.io/includeOutboundIPRanges: .*control character`),
      ),
    ]);
  });
});
