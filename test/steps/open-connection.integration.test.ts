/**
 * What a step does to connections already open, on the lab (needs root): as with Envoy's listener drain after an
 * LDS update, a keep-alive connection opened before a DENY policy is applied keeps the configuration it was
 * accepted with for its next request, while a new connection gets the new policy (docs/findings.md, "Steps").
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createTarget } from '../../src/targets/index.js';
import type { Deployment, Target } from '../../src/targets/target.js';
import { ensureAgentBundle, makeScenario } from '../targets/lab/helpers.js';
import { describeAsRoot } from '../support/as-root.js';

describeAsRoot('open-connection (on the lab, as root)', () => {
  const scenario = makeScenario('open-connection-step', {
    namespaces: [{ name: 'app' }],
    workloads: [
      { name: 'client', namespace: 'app' },
      { name: 'web', namespace: 'app', ports: [{ port: 8080, protocol: 'http' }] },
    ],
    probes: [{ name: 'control', from: 'app/client', to: 'app/web', port: 8080, protocol: 'http', expect: { reach: true } }],
  });
  const denyAll = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'deny-all', namespace: 'app' },
    spec: { selector: { matchLabels: { app: 'web' } }, action: 'DENY', rules: [{}] },
  };

  // One keep-alive connection: a request, then (after a line on stdin) a second request on the same socket.
  const CLIENT = `
const s = require('net').connect(8080, process.argv[1]);
const req = (n) => 'GET /r' + n + ' HTTP/1.1\\r\\nHost: web.app.svc.cluster.local:8080\\r\\nx-meshprobe-nonce: keep' + n + '\\r\\n\\r\\n';
let buf = '';
s.on('data', (d) => { buf += d; const m = buf.match(/^HTTP\\/1\\.1 (\\d+)/); if (m && /\\r\\n\\r\\n/.test(buf)) { console.log('status ' + m[1]); buf = ''; } });
s.on('connect', () => s.write(req(1)));
process.stdin.once('data', () => s.write(req(2)));
process.stdin.once('end', () => setTimeout(() => s.destroy(), 2000));
`;

  let target: Target;
  let dep: Deployment;
  beforeAll(async () => {
    ensureAgentBundle();
    target = await createTarget('lab');
    await target.prepare();
    dep = await target.deploy(scenario);
  }, 300_000);
  afterAll(async () => {
    await target?.teardown();
  });

  test('a connection open before the step keeps the old decision; a new one gets the DENY', async () => {
    const netns = /ip netns exec (\S+-w0-app-client) /.exec((target.access?.(dep) ?? []).join('\n'))![1];
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', CLIENT, '10.244.1.3'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const next = () =>
      new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer; so far: ${lines.join(', ')}`)), 60_000);
        child.stdout!.once('data', (d: Buffer) => {
          clearTimeout(t);
          lines.push(...String(d).trim().split('\n'));
          resolve(lines.at(-1)!);
        });
      });
    expect(await next()).toBe('status 200');
    await target.applyStep!(dep, { name: 'deny', apply: [denyAll as never], delete: [], probes: [] });
    child.stdin!.write('go\n');
    expect(await next()).toBe('status 200'); // the open connection still has the configuration it was accepted with
    child.stdin!.end();
    const fresh = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', CLIENT, '10.244.1.3'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const status = await new Promise<string>((resolve) => fresh.stdout!.once('data', (d: Buffer) => resolve(String(d).trim())));
    fresh.stdin!.end();
    expect(status).toBe('status 403');
  }, 300_000);
});
