/**
 * The mesh a cluster target judges against is read from the cluster and refused when unreadable (issue 18's
 * minor defects of the existing target): no --image needed for stock-mode scenarios, fail closed on the mesh ConfigMap, revisioned istiod,
 * digest-only istiod images.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { ExistingTarget } from '../../../src/targets/existing/index.js';
import { RecordingRunner } from '../../../src/targets/k8s/commands.js';
import { FakeApiServer, type FakeOptions } from './fake-apiserver.js';
import { inMeshOnly } from './fixtures.js';

let server: FakeApiServer | undefined;
afterEach(async () => server?.stop());

async function target(fake: FakeOptions, image: string | null = 'registry.example/meshprobe-agent:1', seed?: (s: FakeApiServer) => void) {
  server = new FakeApiServer(fake);
  seed?.(server);
  await server.start();
  return new ExistingTarget({
    context: 'fake',
    ...(image ? { image } : {}),
    kubeConfig: server.kubeConfig(),
    runner: new RecordingRunner(),
    runId: 'r1',
  });
}

describe('existing target reads the mesh, failing closed', () => {
  test('--image is not needed to prepare: scenarios the stock image can run need none (agent-process.test.ts)', async () => {
    await expect((await target({}, null)).prepare()).resolves.toMatchObject({ istioVersion: '1.26.2' });
  });

  test('an unreadable mesh ConfigMap is an error, not ALLOW_ANY', async () => {
    await expect((await target({ meshMode: 'absent' })).prepare()).rejects.toThrow(
      /cannot read the mesh configuration \(ConfigMap istio-system\/istio\)/,
    );
  });

  test('REGISTRY_ONLY is read from the ConfigMap and judged on', async () => {
    const t = await target({ meshMode: 'REGISTRY_ONLY' });
    const info = await t.prepare();
    expect(info.notes?.join(' ')).toMatch(/outboundTrafficPolicy REGISTRY_ONLY/);
    const s = inMeshOnly();
    s.spec.mesh = { outboundTrafficPolicy: 'ALLOW_ANY' };
    expect(() => t.check(s)).toThrow(/mesh runs REGISTRY_ONLY/);
  });

  test('a digest-only istiod image: the version comes from its chart label', async () => {
    const digest = 'docker.io/istio/pilot@sha256:' + 'a'.repeat(64);
    const t = await target({ istiodImage: digest }, 'x/y:1', (s) => {
      const d = s.list('Deployment', 'istio-system')[0];
      d.metadata.labels = { ...d.metadata.labels, 'app.kubernetes.io/version': '1.26.2' };
    });
    expect((await t.prepare()).istioVersion).toBe('1.26.2');
  });

  test('a digest-only image without a version label is refused with what to do', async () => {
    await expect((await target({ istiodImage: 'docker.io/istio/pilot@sha256:' + 'b'.repeat(64) })).prepare()).rejects.toThrow(
      /cannot tell the Istio version/,
    );
  });

  test('a revisioned istiod reads its own istio-<rev> ConfigMap', async () => {
    const t = await target({ meshMode: 'absent' }, 'x/y:1', (s) => {
      const d = s.list('Deployment', 'istio-system')[0];
      d.metadata.labels = { app: 'istiod', 'istio.io/rev': '1-26' };
      s.seed({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'istio-1-26', namespace: 'istio-system' },
        data: { mesh: 'outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n' },
      });
    });
    const info = await t.prepare();
    expect(info.notes?.join(' ')).toMatch(/istiod revision 1-26, outboundTrafficPolicy REGISTRY_ONLY/);
  });

  /** Two revisioned installs (istioctl install --revision), as `istio.io/rev`-labelled istiod-<rev> deployments. */
  function twoRevisions(s: FakeApiServer, tag?: string): void {
    s.list('Deployment', 'istio-system')[0].metadata.labels = { app: 'istiod', 'istio.io/rev': '1-25' };
    (
      s.list('Deployment', 'istio-system')[0] as unknown as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }
    ).spec.template.spec.containers[0].image = 'docker.io/istio/pilot:1.25.3';
    s.seed({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'istiod-1-26', namespace: 'istio-system', labels: { app: 'istiod', 'istio.io/rev': '1-26' } },
      spec: { template: { spec: { containers: [{ name: 'discovery', image: 'docker.io/istio/pilot:1.26.2' }] } } },
    });
    s.seed({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio-1-26', namespace: 'istio-system' },
      data: { mesh: 'outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n' },
    });
    // what `istioctl tag set default --revision 1-26` writes
    if (tag)
      s.seed({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'istio-revision-tag-default', labels: { 'istio.io/tag': 'default', 'istio.io/rev': tag } },
      });
  }

  test('several revisions: the one the default revision tag points at is judged against; without a tag it is refused', async () => {
    const t = await target({ meshMode: 'absent' }, 'x/y:1', (s) => twoRevisions(s, '1-26'));
    const info = await t.prepare();
    expect(info.istioVersion).toBe('1.26.2');
    expect(info.notes?.join(' ')).toMatch(/istiod revision 1-26, outboundTrafficPolicy REGISTRY_ONLY/);
    await server!.stop();
    const untagged = await target({ meshMode: 'absent' }, 'x/y:1', (s) => twoRevisions(s));
    await expect(untagged.prepare()).rejects.toThrow(/several istiod revisions on context fake \(1-25, 1-26\) and none is the default/);
  });

  test('a revisioned istiod injects the run: namespaces and pods carry istio.io/rev=<rev>, not istio-injection=enabled', async () => {
    const t = await target({}, 'x/y:1', (s) => {
      s.list('Deployment', 'istio-system')[0].metadata.labels = { app: 'istiod', 'istio.io/rev': '1-26' };
      s.seed({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio-1-26', namespace: 'istio-system' }, data: { mesh: '{}' } });
    });
    await t.prepare();
    const dep = await t.deploy(inMeshOnly());
    const app = server!.list('Namespace').find((n) => n.metadata.name.endsWith('-app'))!;
    expect(app.metadata.labels).toMatchObject({ 'istio.io/rev': '1-26' });
    expect(app.metadata.labels?.['istio-injection']).toBeUndefined();
    const legacy = server!.list('Namespace').find((n) => n.metadata.name.endsWith('-legacy'))!;
    expect(legacy.metadata.labels?.['istio-injection']).toBe('disabled');
    const pod = (
      server!.list('Deployment').find((d) => d.metadata.name === 'server') as unknown as {
        spec: { template: { metadata: { labels: Record<string, string> } } };
      }
    ).spec.template.metadata.labels;
    expect(pod['istio.io/rev']).toBe('1-26');
    await t.undeploy(dep);
    await t.teardown();
  });
});
