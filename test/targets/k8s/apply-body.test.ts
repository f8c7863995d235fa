/**
 * Defect 4: server-side apply sends each manifest as the user wrote it. client-node 1.4's typed serializer drops
 * CRD schema fields (kubernetes-client/javascript#2483), which made Calico's CRDs invalid; the fake API server
 * keeps every body it receives, and the body must mean exactly the manifest.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { Kube } from '../../../src/targets/k8s/kube.js';
import type { Manifest } from '../../../src/targets/k8s/manifests.js';
import { FakeApiServer } from './fake-apiserver.js';

/** The shapes Calico v3.29's CRDs use, which the typed serializer mangles. */
const crd: Manifest = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'ippools.crd.projectcalico.org', labels: { 'app.kubernetes.io/part-of': 'calico' } },
  spec: {
    group: 'crd.projectcalico.org',
    names: { kind: 'IPPool', listKind: 'IPPoolList', plural: 'ippools', singular: 'ippool' },
    scope: 'Cluster',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            'x-kubernetes-validations': [{ rule: 'self.spec.blockSize <= 32', message: 'blockSize too large' }],
            properties: {
              spec: {
                type: 'object',
                properties: {
                  blockSize: { type: 'integer', default: 26 },
                  ipipMode: { type: 'string', enum: ['Never', 'Always', 'CrossSubnet'] },
                  port: { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true },
                  extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  nodeSelector: { type: 'string', nullable: true },
                },
              },
            },
          },
        },
      },
    ],
  },
};

let server: FakeApiServer | undefined;
afterEach(async () => server?.stop());

describe('apply bodies', () => {
  test('client-node 1.4 patch() loses CRD schema fields (why meshprobe does not use it)', async () => {
    server = new FakeApiServer();
    await server.start();
    await KubernetesObjectApi.makeApiClient(server.kubeConfig()).patch(crd, undefined, undefined, 'meshprobe', true, PatchStrategy.ServerSideApply);
    const sent = JSON.parse(server.applied[0].body) as Manifest;
    expect(sent).not.toEqual(crd);
  });

  test('Kube.apply sends the CRD with every field, as apply-patch+yaml, with field manager and force', async () => {
    server = new FakeApiServer();
    await server.start();
    await new Kube(server.kubeConfig()).apply(crd);
    expect(server.applied).toHaveLength(1);
    const [a] = server.applied;
    expect(a.path).toBe('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ippools.crd.projectcalico.org');
    expect(a.contentType).toBe('application/apply-patch+yaml');
    expect(JSON.parse(a.body)).toEqual(crd);
    const log = server.log.find((r) => r.method === 'PATCH')!;
    expect(log.path).toMatch(/fieldManager=meshprobe/);
    expect(log.path).toMatch(/force=true/);
  });

  test('namespaced objects keep unknown and oddly cased fields too', async () => {
    server = new FakeApiServer();
    await server.start();
    const kube = new Kube(server.kubeConfig());
    await kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n1' } });
    const cm: Manifest = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'n1', annotations: { 'x/y': '1' } },
      data: { a: 'b' },
      binaryData: {},
      immutable: false,
    };
    await kube.apply(cm);
    expect(JSON.parse(server.applied[1].body)).toEqual(cm);
  });
});
