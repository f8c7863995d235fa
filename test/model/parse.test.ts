import { describe, expect, it } from '@jest/globals';
import { parseResource, parseResources, unsupportedFields } from '../../src/model/index.js';
import { manifest } from './fixtures.js';

describe('parseResource', () => {
  it('parses PeerAuthentication v1beta1 with portLevelMtls', () => {
    const r = parseResource(
      manifest(
        'PeerAuthentication',
        'foo',
        'p',
        {
          selector: { matchLabels: { app: 'httpbin' } },
          mtls: { mode: 'STRICT' },
          portLevelMtls: { '8080': { mode: 'DISABLE' } },
        },
        { apiVersion: 'security.istio.io/v1beta1' },
      ),
    );
    expect(r.ok && r.resource.kind === 'PeerAuthentication' && [r.resource.mode, r.resource.portLevelMtls.get(8080), r.resource.selector]).toEqual([
      'STRICT',
      'DISABLE',
      { app: 'httpbin' },
    ]);
  });

  it('defaults: namespace "default", mode UNSET, action ALLOW', () => {
    const pa = parseResource({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'x' }, spec: {} });
    expect(pa.ok && pa.resource.metadata.namespace).toBe('default');
    expect(pa.ok && pa.resource.kind === 'PeerAuthentication' && pa.resource.mode).toBe('UNSET');
    const ap = parseResource(manifest('AuthorizationPolicy', 'foo', 'a', {}));
    expect(ap.ok && ap.resource.kind === 'AuthorizationPolicy' && [ap.resource.action, ap.resource.rules.length]).toEqual(['ALLOW', 0]);
  });

  it('names the resource and field of an invalid value', () => {
    const r = parseResource(manifest('PeerAuthentication', 'foo', 'bad', { mtls: { mode: 'STRICTEST' } }));
    expect(r).toEqual({ ok: false, kind: 'invalid', error: expect.stringContaining('PeerAuthentication foo/bad: spec.mtls.mode: "STRICTEST"') });
  });

  it('rejects an unknown apiVersion and leaves other kinds to other parts', () => {
    expect(parseResource(manifest('Sidecar', 'foo', 's', {}, { apiVersion: 'networking.istio.io/v2' }))).toMatchObject({
      ok: false,
      kind: 'invalid',
    });
    const all = parseResources([
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np' } },
      manifest('Sidecar', 'foo', 's', {}),
    ]);
    expect([all.resources.length, all.errors.length, all.notModelled.length]).toEqual([1, 0, 1]);
  });

  it('parses DestinationRule tls and portLevelSettings, ServiceEntry ports', () => {
    const dr = parseResource(
      manifest('DestinationRule', 'foo', 'd', {
        host: 'edition.cnn.com',
        trafficPolicy: { tls: { mode: 'SIMPLE' }, portLevelSettings: [{ port: { number: 443 }, tls: { mode: 'SIMPLE', insecureSkipVerify: true } }] },
      }),
    );
    expect(dr.ok && dr.resource.kind === 'DestinationRule' && [dr.resource.tls?.mode, dr.resource.portTls.get(443)?.insecureSkipVerify]).toEqual([
      'SIMPLE',
      true,
    ]);
    const se = parseResource(
      manifest('ServiceEntry', 'foo', 'se', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }),
    );
    expect(se.ok && se.resource.kind === 'ServiceEntry' && [se.resource.location, se.resource.ports[0]?.number]).toEqual(['MESH_EXTERNAL', 80]);
    expect(parseResource(manifest('ServiceEntry', 'foo', 'se', { hosts: [] }))).toMatchObject({ ok: false, kind: 'invalid' });
  });
});

describe('unsupportedFields', () => {
  it('is empty for the fields the model implements', () => {
    expect(
      unsupportedFields(
        manifest('AuthorizationPolicy', 'foo', 'a', {
          selector: { matchLabels: { app: 'httpbin' } },
          action: 'DENY',
          rules: [
            {
              from: [{ source: { principals: ['*'], notNamespaces: ['foo'], ipBlocks: ['10.0.0.0/8'], notRemoteIpBlocks: ['1.2.3.4'] } }],
              to: [{ operation: { ports: ['80'], methods: ['GET'], paths: ['/ip*'], notHosts: ['x'] } }],
              when: [
                { key: 'request.headers[x-token]', values: ['a'] },
                { key: 'source.namespace', notValues: ['bar'] },
                { key: 'destination.port', values: ['80'] },
              ],
            },
          ],
        }),
      ),
    ).toEqual([]);
    expect(
      unsupportedFields(
        manifest('DestinationRule', 'foo', 'd', { host: 'x', exportTo: ['.'], trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: '/c' } } }),
      ),
    ).toEqual([]);
  });

  it('names CUSTOM, unknown when keys and dry-run', () => {
    const ap = manifest('AuthorizationPolicy', 'foo', 'a', {
      action: 'CUSTOM',
      provider: { name: 'ext' },
      rules: [
        {
          from: [{ source: { requestPrincipals: ['*'] } }],
          when: [
            { key: 'request.auth.claims[iss]', values: ['x'] },
            { key: 'experimental.envoy.filters.x[y]', values: ['x'] },
          ],
        },
      ],
    });
    (ap as { metadata: Record<string, unknown> }).metadata['annotations'] = { 'istio.io/dry-run': 'true' };
    expect(unsupportedFields(ap)).toEqual([
      'spec.action=CUSTOM',
      'spec.provider',
      'spec.rules[0].when[1].key=experimental.envoy.filters.x[y]',
      'metadata.annotations.istio.io/dry-run',
    ]);
  });

  it('names DestinationRule loadBalancer, subsets, credentialName; Sidecar ingress; targetRef', () => {
    expect(
      unsupportedFields(
        manifest('DestinationRule', 'foo', 'd', {
          host: 'x',
          subsets: [{ name: 'v1' }],
          trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, tls: { mode: 'SIMPLE', credentialName: 'c' } },
        }),
      ),
    ).toEqual(['spec.subsets', 'spec.trafficPolicy.loadBalancer', 'spec.trafficPolicy.tls.credentialName']);
    expect(unsupportedFields(manifest('Sidecar', 'foo', 's', { ingress: [], egress: [{ port: { number: 80 }, hosts: ['./*'] }] }))).toEqual([
      'spec.ingress',
      'spec.egress[0].port',
    ]);
    expect(unsupportedFields(manifest('PeerAuthentication', 'foo', 'p', { targetRef: {}, portLevelMtls: { '80': { mode: 'STRICT' } } }))).toEqual([
      'spec.targetRef',
      'spec.portLevelMtls (without spec.selector.matchLabels)',
    ]);
  });

  it('says nothing about kinds the model does not evaluate', () => {
    expect(unsupportedFields({ kind: 'NetworkPolicy', spec: { podSelector: {} } })).toEqual([]);
  });
});
