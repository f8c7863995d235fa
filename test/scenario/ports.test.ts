/**
 * Workload port names and one number on two transports (scenario-v1-additions: `ports[].name`, "one number may
 * carry tcp and udp (not two of the same)"). Names follow Kubernetes' IANA_SVC_NAME rule (validation
 * IsValidPortName) and Istio's protocol selection by name prefix (istio.io protocol-selection).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatError, loadScenarios } from '../../src/scenario/loader.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshprobe-ports-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A scenario whose server declares `ports` (YAML flow lines, one per port, starting at line 12). */
async function load(ports: string[], probes = ['{name: p, from: app/client, to: app/server, port: 53, protocol: udp, expect: {reach: true}}']) {
  const file = join(dir, `s${Math.random().toString(36).slice(2)}.yaml`);
  const text = [
    'apiVersion: meshprobe.io/v1',
    'kind: Scenario',
    'metadata:',
    '  name: ports',
    'spec:',
    '  namespaces:',
    '    - name: app',
    '  workloads:',
    '    - name: server',
    '      namespace: app',
    '      ports:',
    ...ports.map((p) => `        - ${p}`),
    '    - name: client',
    '      namespace: app',
    '  probes:',
    ...probes.map((p) => `    - ${p}`),
    '',
  ].join('\n');
  writeFileSync(file, text);
  const r = await loadScenarios([file]);
  return { scenarios: r.scenarios, errors: r.errors.map((e) => formatError(e).slice(file.length + 1)) };
}

describe('workload port names', () => {
  it('accepts optional IANA_SVC_NAME names and keeps them', async () => {
    const r = await load(['{port: 8080, protocol: http, name: http-web}', '{port: 53, protocol: udp, name: dns}', '{port: 9000, protocol: tcp}']);
    expect(r.errors).toEqual([]);
    expect(r.scenarios[0].scenario.spec.workloads[0].ports).toEqual([
      { port: 8080, protocol: 'http', name: 'http-web' },
      { port: 53, protocol: 'udp', name: 'dns' },
      { port: 9000, protocol: 'tcp' },
    ]);
  });

  it.each([
    ['a-name-of-16-chr', 'at most 15'],
    ['Http', 'IANA_SVC_NAME'],
    ['8080', 'IANA_SVC_NAME'],
    ['-web', 'IANA_SVC_NAME'],
    ['web-', 'IANA_SVC_NAME'],
    ['web--x', 'IANA_SVC_NAME'],
    ['web_x', 'IANA_SVC_NAME'],
  ])('refuses the port name %s at its line and column', async (name, why) => {
    const r = await load([`{port: 53, protocol: udp, name: "${name}"}`]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/^12:43: spec\.workloads\[0\]\.ports\[0\]\.name: /);
    expect(r.errors[0]).toContain(why);
  });

  it('refuses a name used twice in one workload, and a name equal to another port default name', async () => {
    const twice = await load(['{port: 53, protocol: udp, name: dns}', '{port: 54, protocol: udp, name: dns}']);
    expect(twice.errors).toEqual([
      '13:43: spec.workloads[0].ports[1].name: duplicate port name "dns" (first used at index 0); give the ports distinct names',
    ]);
    const clash = await load(['{port: 53, protocol: udp, name: p54}', '{port: 54, protocol: udp}']);
    expect(clash.errors).toEqual([
      `13:11: spec.workloads[0].ports[1].name: this port's default port name "p54" is already used at index 0; name one of them`,
    ]);
  });

  it('refuses a name whose Istio protocol prefix contradicts the declared protocol', async () => {
    const r = await load(['{port: 8080, protocol: http, name: tcp-web}', '{port: 53, protocol: udp}', '{port: 9000, protocol: tcp, name: grpc-x}']);
    expect(r.errors).toEqual([
      '12:46: spec.workloads[0].ports[0].name: port name "tcp-web" makes Istio select protocol tcp (its prefix), but the port is declared http; name it http-<suffix> or without a protocol prefix',
      '14:45: spec.workloads[0].ports[2].name: port name "grpc-x" makes Istio select protocol grpc (its prefix), but the port is declared tcp; name it tcp-<suffix> or without a protocol prefix',
    ]);
    // Matching prefixes and names without a known prefix are fine.
    expect(
      (await load(['{port: 8080, protocol: http, name: http}', '{port: 53, protocol: udp, name: udp-dns}', '{port: 1, protocol: tcp, name: web}']))
        .errors,
    ).toEqual([]);
  });
});

describe('one port number on TCP and UDP', () => {
  it('accepts 53/udp beside 53/tcp, and a probe of each transport finds its own listener', async () => {
    const r = await load(
      ['{port: 53, protocol: udp, name: dns-udp}', '{port: 53, protocol: tcp, name: dns-tcp}'],
      [
        '{name: u, from: app/client, to: app/server, port: 53, protocol: udp, expect: {reach: true}}',
        '{name: t, from: app/client, to: app/server, port: 53, protocol: tcp, expect: {reach: true}}',
      ],
    );
    expect(r.errors).toEqual([]);
    // Unnamed: the default names stay distinct (Service udp-53/tcp-53, container p53/p53-udp).
    expect((await load(['{port: 53, protocol: udp}', '{port: 53, protocol: tcp}'])).errors).toEqual([]);
  });

  it('refuses one number twice on one transport (http, https and tcp all listen on TCP)', async () => {
    const r = await load(['{port: 53, protocol: tcp}', '{port: 53, protocol: http}', '{port: 53, protocol: udp}', '{port: 53, protocol: udp}']);
    expect(r.errors).toEqual([
      '13:18: spec.workloads[0].ports[1].port: duplicate port "53/TCP" (first declared at index 0)',
      '15:18: spec.workloads[0].ports[3].port: duplicate port "53/UDP" (first declared at index 2)',
    ]);
  });

  it('an http probe to a number declared only on udp is still refused by protocol', async () => {
    const r = await load(
      ['{port: 53, protocol: udp}'],
      ['{name: p, from: app/client, to: app/server, port: 53, protocol: http, expect: {reach: true}}'],
    );
    expect(r.errors).toEqual([expect.stringContaining('http probe to port 53, which app/server declares as udp')]);
  });
});
