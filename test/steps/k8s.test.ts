/**
 * Steps on a cluster target through the fake API server: the policy lifecycle's steps become a server-side apply
 * (create, then update of the same object) and a DELETE, in the run's own namespace, with the scenario's names
 * rewritten; undeploy removes what is left.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from '@jest/globals';
import { deployable } from '../../src/engine/execute.js';
import { loadScenarios } from '../../src/scenario/loader.js';
import { RecordingRunner } from '../../src/targets/k8s/commands.js';
import { ExistingTarget } from '../../src/targets/existing/index.js';
import { FakeApiServer } from '../targets/k8s/fake-apiserver.js';
import { LIFECYCLE } from './fixtures.js';

const started: FakeApiServer[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
});

test('applied, updated and deleted policy through the fake API server', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-steps-k8s-'));
  writeFileSync(join(dir, 's.yaml'), LIFECYCLE);
  const scenario = (await loadScenarios([join(dir, 's.yaml')])).scenarios[0].scenario;
  const server = new FakeApiServer();
  started.push(server);
  await server.start();
  const runner = new RecordingRunner([{ prefix: 'istioctl analyze', result: { stdout: '[]' } }]);
  const target = new ExistingTarget({
    context: 'fake',
    image: 'registry.example/meshprobe-agent:1',
    kubeConfig: server.kubeConfig(),
    runner,
    runId: 'r1',
    xdsSettleMs: 10,
    readyTimeoutMs: 3000,
  });
  await target.prepare();
  target.check(deployable(scenario));
  const dep = await target.deploy(deployable(scenario));
  expect(server.list('AuthorizationPolicy')).toEqual([]);
  const [deny, update, remove] = scenario.spec.steps!;
  const paths = () =>
    server
      .list('AuthorizationPolicy')
      .map((p) => [
        p.metadata.namespace,
        p.metadata.name,
        (p.spec as { rules: Array<{ to: Array<{ operation: { paths: string[] } }> }> }).rules[0].to[0].operation.paths,
      ]);

  await target.applyStep(dep, deny);
  expect(paths()).toEqual([[expect.stringMatching(/^mp-r1-[0-9a-f]{4}-app$/), 'web-deny', ['/admin*']]]);
  await target.applyStep(dep, update);
  expect(paths()).toEqual([[expect.stringMatching(/^mp-r1-[0-9a-f]{4}-app$/), 'web-deny', ['/public*']]]);
  const patches = server.log.filter((r) => r.method === 'PATCH' && r.path.includes('/authorizationpolicies/web-deny'));
  expect(patches).toHaveLength(2);
  await target.applyStep(dep, remove);
  expect(server.list('AuthorizationPolicy')).toEqual([]);
  expect(server.log.filter((r) => r.method === 'DELETE' && r.path.includes('/authorizationpolicies/web-deny')).map((r) => r.namespace)).toEqual([
    expect.stringMatching(/^mp-r1-[0-9a-f]{4}-app$/),
  ]);

  await target.undeploy(dep);
  expect(server.list('Namespace')).toEqual([]);
});
