/**
 * The injection corpus: every string a target acts on — in a scenario, a workloads file and a policies directory —
 * set to shell, here-document, iptables and path-traversal payloads, then run through the real CLI: `validate`,
 * `run` on the lab, `render`, `matrix` and `diff --probe`. Each payload tries to create a canary file; none may
 * appear. The host's root network namespace (iptables rules, routes, links) must be what it was. Every case must
 * end either in exit 2 with a `file:line:col` position, or in a literal, harmless use of the value (the run works
 * and the value shows up only as data).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describeAsRoot } from '../support/as-root.js';

const work = mkdtempSync(join(tmpdir(), 'mp-corpus-'));
const CANARY = join(work, 'canary');

/** Payloads, each of which would create CANARY if it ever reached a shell, a here-document or a file path. */
const PAYLOADS: Record<string, string> = {
  'command-substitution': `$(touch ${CANARY})`,
  backticks: `\`touch ${CANARY}\``,
  'command-separator': `x; touch ${CANARY} #`,
  'here-document': `10.244.0.0/16\nCOMMIT\nMESHPROBE_EOF\ntouch ${CANARY}\ncat <<'MESHPROBE_EOF'\n*filter`,
  'iptables-line': '10.9.9.9/32\n-I FORWARD 1 -j ACCEPT',
  'iptables-flags': '10.9.9.9/32 -j ACCEPT',
  'path-traversal': `../../../../..${CANARY}`,
  'absolute-path': CANARY,
  'crlf-header': 'a\r\nx-injected: 1',
  nul: 'a\u0000b',
};

// biome-ignore lint/suspicious/noExplicitAny: scenario documents are edited field by field at any depth; a typed shape would be the schema itself
type Doc = Record<string, any>;

/** A valid lab scenario in which every field below has a home. */
function baseScenario(name: string): Doc {
  return {
    apiVersion: 'meshprobe.io/v1',
    kind: 'Scenario',
    metadata: { name, title: 'corpus', claim: 'corpus', source: 'corpus', tags: ['corpus'] },
    spec: {
      namespaces: [{ name: 'app' }, { name: 'legacy', sidecarInjection: false }],
      workloads: [
        {
          name: 'server',
          namespace: 'app',
          serviceAccount: 'server',
          labels: { app: 'server' },
          annotations: {},
          ports: [
            { port: 8080, protocol: 'http' },
            { port: 9090, protocol: 'tcp' },
          ],
        },
        { name: 'client', namespace: 'app' },
      ],
      externals: [{ name: 'api.partner.test', ports: [{ port: 80, protocol: 'http' }] }],
      resources: [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'np', namespace: 'app' },
          spec: {
            podSelector: { matchLabels: { app: 'server' } },
            policyTypes: ['Ingress'],
            ingress: [
              {
                from: [{ ipBlock: { cidr: '10.244.0.0/16', except: ['10.244.255.0/24'] } }],
                ports: [{ port: 8080, protocol: 'TCP' }, { port: 9090 }],
              },
            ],
          },
        },
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'ap', namespace: 'app' },
          spec: {
            selector: { matchLabels: { app: 'server' } },
            action: 'ALLOW',
            rules: [
              {
                from: [{ source: { namespaces: ['app'], principals: ['cluster.local/ns/app/sa/client'] } }],
                to: [{ operation: { paths: ['/*'], methods: ['GET'] } }],
              },
            ],
          },
        },
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'ServiceEntry',
          metadata: { name: 'se', namespace: 'app' },
          spec: {
            hosts: ['api.partner.test'],
            location: 'MESH_EXTERNAL',
            resolution: 'DNS',
            ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
          },
        },
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'Sidecar',
          metadata: { name: 'default', namespace: 'app' },
          spec: { egress: [{ hosts: ['./*', 'istio-system/*'] }] },
        },
      ],
      probes: [
        {
          name: 'allowed',
          from: 'app/client',
          to: 'app/server',
          port: 8080,
          protocol: 'http',
          http: { method: 'GET', path: '/ok', headers: { 'x-corpus': 'v' } },
          expect: { reach: true, status: 200 },
        },
        { name: 'tcp-allowed', from: 'app/client', to: 'app/server', port: 9090, protocol: 'tcp', expect: { reach: true } },
      ],
    },
  };
}

type Setter = (d: Doc, v: string) => void;
const res = (d: Doc, kind: string) => d.spec.resources.find((r: Doc) => r.kind === kind);
const server = (d: Doc) => d.spec.workloads[0];
const annotation =
  (key: string): Setter =>
  (d, v) => {
    server(d).annotations[`traffic.sidecar.istio.io/${key}`] = v;
  };

/** Every string field of a scenario that meshprobe acts on (names, addresses, ports, hosts, the wire). */
const SCENARIO_FIELDS: Record<string, Setter> = {
  // Free text: may be anything, and must then be only data.
  'metadata.title': (d, v) => {
    d.metadata.title = v;
  },
  'metadata.claim': (d, v) => {
    d.metadata.claim = v;
  },
  'metadata.tags': (d, v) => {
    d.metadata.tags = [v];
  },
  'metadata.name': (d, v) => {
    d.metadata.name = v;
  },
  'namespaces[].name': (d, v) => {
    d.spec.namespaces[1].name = v;
  },
  'workloads[].name': (d, v) => {
    d.spec.workloads[1].name = v;
    d.spec.probes[0].from = `app/${v}`;
    d.spec.probes[1].from = `app/${v}`;
  },
  'workloads[].serviceAccount': (d, v) => {
    server(d).serviceAccount = v;
  },
  'workloads[].labels key': (d, v) => {
    server(d).labels[v] = 'x';
  },
  'workloads[].labels value': (d, v) => {
    server(d).labels.app = v;
  },
  excludeInboundPorts: annotation('excludeInboundPorts'),
  includeInboundPorts: annotation('includeInboundPorts'),
  excludeOutboundPorts: annotation('excludeOutboundPorts'),
  includeOutboundPorts: annotation('includeOutboundPorts'),
  excludeOutboundIPRanges: annotation('excludeOutboundIPRanges'),
  includeOutboundIPRanges: annotation('includeOutboundIPRanges'),
  excludeInterfaces: annotation('excludeInterfaces'),
  'externals[].name': (d, v) => {
    d.spec.externals[0].name = v;
  },
  'probes[].name': (d, v) => {
    d.spec.probes[1].name = v;
  },
  'probes[].http.method': (d, v) => {
    d.spec.probes[0].http.method = v;
  },
  'probes[].http.path': (d, v) => {
    d.spec.probes[0].http.path = v;
  },
  'probes[].http.headers name': (d, v) => {
    d.spec.probes[0].http.headers[v] = 'x';
  },
  'probes[].http.headers value': (d, v) => {
    d.spec.probes[0].http.headers['x-corpus'] = v;
  },
  ...policyFields(),
};

/** The policy strings, shared by scenarios (`resources`) and policies directories. */
function policyFields(): Record<string, Setter> {
  return {
    'NetworkPolicy ipBlock.cidr': (d, v) => {
      res(d, 'NetworkPolicy').spec.ingress[0].from[0].ipBlock.cidr = v;
    },
    'NetworkPolicy ipBlock.except': (d, v) => {
      res(d, 'NetworkPolicy').spec.ingress[0].from[0].ipBlock.except = [v];
    },
    'NetworkPolicy port name': (d, v) => {
      res(d, 'NetworkPolicy').spec.ingress[0].ports[1].port = v;
    },
    'NetworkPolicy metadata.name': (d, v) => {
      res(d, 'NetworkPolicy').metadata.name = v;
    },
    'NetworkPolicy matchLabels value': (d, v) => {
      res(d, 'NetworkPolicy').spec.podSelector.matchLabels.app = v;
    },
    'AuthorizationPolicy metadata.name': (d, v) => {
      res(d, 'AuthorizationPolicy').metadata.name = v;
    },
    'AuthorizationPolicy metadata.namespace': (d, v) => {
      res(d, 'AuthorizationPolicy').metadata.namespace = v;
    },
    'AuthorizationPolicy principals': (d, v) => {
      res(d, 'AuthorizationPolicy').spec.rules[0].from[0].source.principals = [v];
    },
    'AuthorizationPolicy paths': (d, v) => {
      res(d, 'AuthorizationPolicy').spec.rules[0].to[0].operation.paths = [v];
    },
    'ServiceEntry hosts': (d, v) => {
      res(d, 'ServiceEntry').spec.hosts = [v];
    },
    'ServiceEntry port name': (d, v) => {
      res(d, 'ServiceEntry').spec.ports[0].name = v;
    },
    'Sidecar egress hosts': (d, v) => {
      res(d, 'Sidecar').spec.egress[0].hosts = [v];
    },
  };
}

interface Case {
  id: string;
  file: string;
}

function cli(args: string[], timeoutMs = 120_000) {
  const r = spawnSync(process.execPath, ['bin/meshprobe.js', ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, CI: 'true' } });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * The root network namespace as the lab must leave it. A container engine's own bridges and veths are not ours
 * (the docker tests may run beside this one), nor is a device named by index only (`if219`: one that went away
 * while the routes were listed).
 */
function rootNamespace(): string {
  const read = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '';
  return [read('iptables-save', []), read('ip', ['-o', 'route', 'show', 'table', 'all']), read('ip', ['-o', 'link'])]
    .join('\n')
    .split('\n')
    .map((l) => l.replace(/\[\d+:\d+\]/g, '').replace(/^# .*$/, ''))
    .filter((l) => l && !/docker|DOCKER|br-[0-9a-f]{12}|veth[0-9a-f]+|\bif\d+\b/.test(l))
    .sort()
    .join('\n');
}

/** The root namespace once another engine's passing changes have settled (re-read up to 5 times, 1 s apart); a
 * change the lab left behind stays, so this still fails on it. */
function rootNamespaceAgain(before: string): string {
  let now = rootNamespace();
  for (let i = 0; i < 5 && now !== before; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    now = rootNamespace();
  }
  return now;
}

const noStackTrace = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)|node:internal/);
const positioned = /:\d+:\d+: /;

function writeCases(dir: string, fields: Record<string, Setter>, base: (name: string) => Doc): Case[] {
  mkdirSync(dir, { recursive: true });
  const cases: Case[] = [];
  let i = 0;
  for (const [field, set] of Object.entries(fields)) {
    for (const [payload, value] of Object.entries(PAYLOADS)) {
      const doc = base(`corpus-${i}`);
      set(doc, value);
      const file = join(dir, `case-${i++}.yaml`);
      writeFileSync(file, stringify(doc));
      cases.push({ id: `${field} = ${payload}`, file });
    }
  }
  return cases;
}

beforeAll(() => {
  if (!existsSync('dist/cli/main.js')) throw new Error('the project is not built: run scripts/bootstrap');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Fields whose values are free text (may be valid with any payload) or data on the wire (valid unless they hold
 * a control character). Everything else is an address, a port, a name, a host or a capture setting: every payload
 * must be refused there. */
const FREE_TEXT = /^metadata\.(title|claim|tags) = /;
const WIRE_DATA =
  /^(probes\[\]\.http\.(path|headers value)|AuthorizationPolicy (paths|principals)) = (?!here-document|iptables-line|crlf-header|nul)/;
const mayBeValid = (id: string) => FREE_TEXT.test(id) || WIRE_DATA.test(id);

interface Doc1 {
  file: string;
  valid: boolean;
  errors: string[];
}

describe('scenario files with hostile values', () => {
  const dir = join(work, 'scenarios');
  const cases = writeCases(dir, SCENARIO_FIELDS, baseScenario);
  const valid: Case[] = [];
  const invalid: Case[] = [];

  it('validate: every case is refused with a position, or valid; nothing runs', () => {
    const r = cli(['validate', '--json', dir]);
    noStackTrace(r.stderr);
    expect(r.status).toBe(2);
    const report = JSON.parse(r.stdout) as { documents: Doc1[]; errors: string[] };
    const unexplained: string[] = [];
    for (const c of cases) {
      const docs = report.documents.filter((d) => d.file === c.file);
      const fileErrors = report.errors.filter((e) => e.startsWith(`${c.file}:`));
      if (docs.length === 1 && docs[0].valid && !fileErrors.length) valid.push(c);
      else if ([...docs.flatMap((d) => d.errors), ...fileErrors].some((e) => e.startsWith(`${c.file}:`) && positioned.test(e))) invalid.push(c);
      else unexplained.push(c.id);
    }
    expect(unexplained).toEqual([]);
    expect(existsSync(CANARY)).toBe(false);
  });

  it('addresses, ports, names, hosts and capture settings refuse every payload; the wire refuses control characters', () => {
    expect(valid.map((c) => c.id).filter((id) => !mayBeValid(id))).toEqual([]);
    expect(valid.length).toBeGreaterThan(0); // the free-text fields at least
  });

  describeAsRoot('on the lab', () =>
    it('run on the lab: invalid input deploys nothing; valid hostile values are only data', () => {
      const before = rootNamespace();
      const reports = join(work, 'reports-invalid');
      const bad = cli(['run', '--report-dir', reports, ...invalid.map((c) => c.file)]);
      noStackTrace(bad.stderr);
      expect(bad.status).toBe(2);
      const badReport = JSON.parse(readFileSync(join(reports, 'report.json'), 'utf8')) as { inputErrors: string[]; scenarios: unknown[] };
      expect(badReport.inputErrors.length).toBeGreaterThanOrEqual(invalid.length);
      expect(badReport.scenarios).toEqual([]);

      // Every field that accepted a hostile value, with up to three of its payloads, deployed and probed for real.
      const perField = new Map<string, number>();
      const sample = valid.filter((c) => {
        const field = c.id.split(' = ')[0];
        perField.set(field, (perField.get(field) ?? 0) + 1);
        return perField.get(field)! <= 3;
      });
      const good = cli(['run', '--report-dir', join(work, 'reports-valid'), ...sample.map((c) => c.file)], 300_000);
      noStackTrace(good.stderr);
      expect([0, 1]).toContain(good.status);
      const report = JSON.parse(readFileSync(join(work, 'reports-valid', 'report.json'), 'utf8')) as { scenarios: { verdict: string }[] };
      expect(report.scenarios).toHaveLength(sample.length);
      expect(report.scenarios.filter((s) => s.verdict === 'ERROR')).toEqual([]);
      expect(readFileSync(join(work, 'reports-valid', 'junit.xml'), 'utf8')).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
      expect(existsSync(CANARY)).toBe(false);
      expect(rootNamespaceAgain(before)).toBe(before);
    }, 400_000),
  );

  it('render writes only inside --out, and refuses invalid input', () => {
    const out = join(work, 'render-out');
    const good = cli(['render', '--target', 'kind', '--out', out, ...valid.map((c) => c.file)]);
    noStackTrace(good.stderr);
    expect(good.status).toBe(0);
    const outReal = realpathSync(out);
    const written = listAll(out);
    expect(written.length).toBeGreaterThan(0);
    expect(written.filter((f) => !realpathSync(f).startsWith(`${outReal}/`))).toEqual([]);

    const badOut = join(work, 'render-bad');
    const bad = cli(['render', '--target', 'kind', '--out', badOut, ...invalid.map((c) => c.file)]);
    noStackTrace(bad.stderr);
    expect(bad.status).toBe(2);
    expect(existsSync(badOut) ? listAll(badOut) : []).toEqual([]);
    expect(existsSync(CANARY)).toBe(false);
    expect(listAll(work).filter((f) => f.startsWith(`${work}/..`) || !f.startsWith(work))).toEqual([]);
  }, 120_000);
});

/** The payloads most likely to break a policies directory or a workloads file (every field gets each). */
const INPUT_PAYLOADS = ['here-document', 'iptables-line', 'command-substitution', 'path-traversal', 'nul'];

describe('workloads files and policies directories with hostile values', () => {
  const workloadsOf = (d: Doc) => ({ namespaces: d.spec.namespaces, workloads: d.spec.workloads, externals: d.spec.externals });
  const fields: Record<string, Setter> = {
    ...policyFields(),
    ...Object.fromEntries(Object.entries(SCENARIO_FIELDS).filter(([k]) => /^(namespaces|workloads|externals)|Ports$|Ranges$|Interfaces$/.test(k))),
  };
  const cases = Object.entries(fields).flatMap(([field, set]) =>
    INPUT_PAYLOADS.map((payload) => {
      const doc = baseScenario('p');
      set(doc, PAYLOADS[payload]);
      return { id: `${field} = ${payload}`, doc };
    }),
  );

  function layout(name: string, doc: Doc): { workloads: string; policies: string } {
    const root = join(work, 'inputs', name);
    mkdirSync(join(root, 'policies'), { recursive: true });
    writeFileSync(join(root, 'workloads.yaml'), stringify(workloadsOf(doc)));
    writeFileSync(join(root, 'policies', 'policy.yaml'), doc.spec.resources.map((r: Doc) => stringify(r)).join('---\n'));
    return { workloads: join(root, 'workloads.yaml'), policies: join(root, 'policies') };
  }

  describeAsRoot('on the lab', () =>
    it('matrix refuses each with a position, or probes it as plain data; diff --probe refuses before deploying', async () => {
      const before = rootNamespace();
      const baseline = layout('baseline', baseScenario('b'));
      const results = await pool(
        cases.map((c, i) => async () => {
          const inputs = layout(`c${i}`, c.doc);
          const m = await cliAsync(['matrix', '--workloads', inputs.workloads, '--policies', inputs.policies]);
          return { c, m };
        }),
        2,
      );
      const problems = results.flatMap(({ c, m }) => {
        const out: string[] = [];
        if (/\n\s+at .+:\d+:\d+\)?\n/.test(m.stderr)) out.push(`${c.id}: stack trace`);
        const refused = m.status === 2 && positioned.test(m.stderr);
        const harmless = mayBeValid(c.id) && (m.status === 0 || m.status === 1);
        if (!refused && !harmless) out.push(`${c.id}: exit ${m.status}: ${m.stderr.trim().slice(0, 200)}`);
        return out;
      });
      expect(problems).toEqual([]);

      // The same files as the "after" side of a pull request, probed: refused before anything is deployed.
      const cidr = layout('cidr', cases.find((c) => c.id === 'NetworkPolicy ipBlock.cidr = here-document')!.doc);
      const d = cli(['diff', '--before', baseline.policies, '--after', cidr.policies, '--workloads', cidr.workloads, '--probe']);
      noStackTrace(d.stderr);
      expect(d.status).toBe(2);
      expect(d.stderr).toMatch(/policy\.yaml:\d+:\d+: .*cidr/);
      expect(existsSync(CANARY)).toBe(false);
      expect(rootNamespaceAgain(before)).toBe(before);
    }, 600_000),
  );
});

function cliAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/meshprobe.js', ...args], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

function listAll(root: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(root)) {
    const p = join(root, name);
    if (statSync(p).isDirectory()) out.push(...listAll(p));
    else out.push(p);
  }
  return out;
}
