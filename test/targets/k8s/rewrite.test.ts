import { describe, expect, test } from '@jest/globals';
import { namespaceMap } from '../../../src/targets/k8s/names.js';
import { mapHost, mapPrincipal, reverseText, rewriteResource } from '../../../src/targets/k8s/rewrite.js';
import { strictMtls } from './fixtures.js';

const map = namespaceMap('r1', strictMtls());
const APP = map.forward.get('app')!;
const LEGACY = map.forward.get('legacy')!;

describe('namespace map', () => {
  test('names are mp-<run>-<scenario tag>-<name>, distinct per scenario, and reversible', () => {
    expect(APP).toMatch(/^mp-r1-[0-9a-f]{4}-app$/);
    const other = namespaceMap('r1', { ...strictMtls(), metadata: { name: 'another' } });
    expect(other.forward.get('app')).not.toBe(APP);
    expect(map.reverse.get(APP)).toBe('app');
  });
  test('long names stay valid DNS labels and unique', () => {
    const long = 'a'.repeat(60);
    const s = strictMtls({ namespaces: [{ name: long }, { name: `${long}b` }] });
    const m = namespaceMap('r1', s);
    const names = [...m.forward.values()];
    for (const n of names) expect(n.length).toBeLessThanOrEqual(63);
    expect(new Set(names).size).toBe(2);
  });
});

describe('rewriteResource', () => {
  test('metadata.namespace is mapped; istio-system (root) and undeclared namespaces are not', () => {
    expect(rewriteResource(map, { metadata: { name: 'x', namespace: 'app' } }).metadata.namespace).toBe(APP);
    expect(rewriteResource(map, { metadata: { name: 'x', namespace: 'istio-system' } }).metadata.namespace).toBe('istio-system');
    expect(rewriteResource(map, { metadata: { name: 'x', namespace: 'elsewhere' } }).metadata.namespace).toBe('elsewhere');
  });

  test('source.namespaces / notNamespaces, including prefix patterns; suffix patterns and * unchanged', () => {
    const policy = {
      spec: {
        rules: [{ from: [{ source: { namespaces: ['app', 'istio-system', 'leg*', '*-prod', '*'], notNamespaces: ['legacy'] } }] }],
      },
    };
    const out = rewriteResource(map, policy);
    expect(out.spec.rules[0].from[0].source.namespaces).toEqual([APP, 'istio-system', `${map.prefix}leg*`, '*-prod', '*']);
    expect(out.spec.rules[0].from[0].source.notNamespaces).toEqual([LEGACY]);
  });

  test('principals / notPrincipals in every form', () => {
    const source = {
      principals: [
        'cluster.local/ns/app/sa/caller',
        'spiffe://cluster.local/ns/legacy/sa/client',
        '*/ns/app/sa/*',
        'cluster.local/ns/app/*',
        'example.org/ns/app/sa/x',
        'cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
        '*',
      ],
      notPrincipals: ['cluster.local/ns/legacy/sa/client'],
    };
    const out = rewriteResource(map, { spec: { rules: [{ from: [{ source }] }] } }).spec.rules[0].from[0].source;
    expect(out.principals).toEqual([
      `cluster.local/ns/${APP}/sa/caller`,
      `spiffe://cluster.local/ns/${LEGACY}/sa/client`,
      `*/ns/${APP}/sa/*`,
      `cluster.local/ns/${APP}/*`,
      `example.org/ns/${APP}/sa/x`,
      'cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account',
      '*',
    ]);
    expect(out.notPrincipals).toEqual([`cluster.local/ns/${LEGACY}/sa/client`]);
    expect(mapPrincipal(map, 'cluster.local/ns/leg*')).toBe(`cluster.local/ns/${map.prefix}leg*`);
  });

  test('AuthorizationPolicy when conditions on source.namespace and source.principal; others untouched', () => {
    const when = [
      { key: 'source.namespace', values: ['app'], notValues: ['legacy'] },
      { key: 'source.principal', values: ['cluster.local/ns/app/sa/caller'] },
      { key: 'request.headers[x-ns]', values: ['app'] },
    ];
    const out = rewriteResource(map, { spec: { rules: [{ when }] } }).spec.rules[0].when;
    expect(out).toEqual([
      { key: 'source.namespace', values: [APP], notValues: [LEGACY] },
      { key: 'source.principal', values: [`cluster.local/ns/${APP}/sa/caller`] },
      { key: 'request.headers[x-ns]', values: ['app'] },
    ]);
  });

  test('Sidecar egress hosts <ns>/<host>: mapped namespace, ./~/* kept, FQDN after the slash mapped', () => {
    const sidecar = {
      spec: { egress: [{ hosts: ['./*', 'istio-system/*', 'app/*', '~/*', '*/server.legacy.svc.cluster.local', 'legacy/api.partner.test'] }] },
    };
    expect(rewriteResource(map, sidecar).spec.egress[0].hosts).toEqual([
      './*',
      'istio-system/*',
      `${APP}/*`,
      '~/*',
      `*/server.${LEGACY}.svc.cluster.local`,
      `${LEGACY}/api.partner.test`,
    ]);
  });

  test('service FQDNs in hosts fields: <svc>.<ns>, .svc, .svc.cluster.local; externals and short names unchanged', () => {
    expect(mapHost(map, 'server.app.svc.cluster.local')).toBe(`server.${APP}.svc.cluster.local`);
    expect(mapHost(map, 'server.app.svc')).toBe(`server.${APP}.svc`);
    expect(mapHost(map, 'server.app')).toBe(`server.${APP}`);
    expect(mapHost(map, '*.app.svc.cluster.local')).toBe(`*.${APP}.svc.cluster.local`);
    expect(mapHost(map, 'server')).toBe('server');
    expect(mapHost(map, 'api.partner.test')).toBe('api.partner.test');
    expect(mapHost(map, 'server.app.example.com')).toBe('server.app.example.com');
    expect(mapHost(map, 'istiod.istio-system.svc.cluster.local')).toBe('istiod.istio-system.svc.cluster.local');
  });

  test('VirtualService hosts, route destinations and gateways; DestinationRule host; Gateway servers hosts', () => {
    const vs = {
      spec: {
        hosts: ['server.app.svc.cluster.local'],
        gateways: ['mesh', 'app/ingress', 'istio-system/egress'],
        http: [{ route: [{ destination: { host: 'server.legacy.svc.cluster.local', port: { number: 8080 } } }] }],
      },
    };
    const out = rewriteResource(map, vs);
    expect(out.spec.hosts).toEqual([`server.${APP}.svc.cluster.local`]);
    expect(out.spec.gateways).toEqual(['mesh', `${APP}/ingress`, 'istio-system/egress']);
    expect(out.spec.http[0].route[0].destination.host).toBe(`server.${LEGACY}.svc.cluster.local`);
    expect(rewriteResource(map, { spec: { host: 'server.app.svc.cluster.local' } }).spec.host).toBe(`server.${APP}.svc.cluster.local`);
    const gw = { spec: { selector: { istio: 'egressgateway' }, servers: [{ hosts: ['app/api.partner.test', '*'] }] } };
    const gwOut = rewriteResource(map, gw);
    expect(gwOut.spec.servers[0].hosts).toEqual([`${APP}/api.partner.test`, '*']);
    expect(gwOut.spec.selector).toEqual({ istio: 'egressgateway' });
  });

  test('exportTo maps names and keeps . * ~', () => {
    expect(rewriteResource(map, { spec: { exportTo: ['.', '*', '~', 'legacy', 'istio-system'] } }).spec.exportTo).toEqual([
      '.',
      '*',
      '~',
      LEGACY,
      'istio-system',
    ]);
  });

  test('NetworkPolicy namespaceSelector on kubernetes.io/metadata.name (matchLabels and matchExpressions)', () => {
    const np = {
      spec: {
        podSelector: { matchLabels: { app: 'server' } },
        ingress: [
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'legacy', team: 'app' } } }] },
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [
                    { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['app', 'kube-system'] },
                    { key: 'team', operator: 'In', values: ['app'] },
                  ],
                },
              },
            ],
          },
        ],
      },
    };
    const out = rewriteResource(map, np);
    expect((out.spec.ingress[0].from[0].namespaceSelector as Record<string, unknown>).matchLabels).toEqual({
      'kubernetes.io/metadata.name': LEGACY,
      team: 'app',
    });
    expect((out.spec.ingress[1].from[0].namespaceSelector as Record<string, unknown>).matchExpressions).toEqual([
      { key: 'kubernetes.io/metadata.name', operator: 'In', values: [APP, 'kube-system'] },
      { key: 'team', operator: 'In', values: ['app'] },
    ]);
    expect(out.spec.podSelector).toEqual({ matchLabels: { app: 'server' } });
  });

  test('workloadSelector, labels and annotations are never rewritten, even when a value equals a namespace', () => {
    const sidecar = {
      metadata: { name: 's', namespace: 'app', labels: { namespace: 'app' }, annotations: { host: 'server.app' } },
      spec: { workloadSelector: { labels: { namespace: 'app' } } },
    };
    const out = rewriteResource(map, sidecar);
    expect(out.metadata.labels).toEqual({ namespace: 'app' });
    expect(out.metadata.annotations).toEqual({ host: 'server.app' });
    expect(out.spec.workloadSelector).toEqual({ labels: { namespace: 'app' } });
  });

  test('RoleBinding subjects[].namespace is mapped; the input object is not modified', () => {
    const rb = { subjects: [{ kind: 'ServiceAccount', name: 'caller', namespace: 'app' }] };
    expect(rewriteResource(map, rb).subjects[0].namespace).toBe(APP);
    expect(rb.subjects[0].namespace).toBe('app');
  });

  test('reverse undoes forward for every field kind', () => {
    const original = strictMtls().spec.resources;
    const there = original.map((r) => rewriteResource(map, r));
    expect(there).not.toEqual(original);
    expect(there.map((r) => rewriteResource(map, r, 'reverse'))).toEqual(original);
  });

  test('reverseText shows observations in the scenario names', () => {
    const xfcc = `By=spiffe://cluster.local/ns/${APP}/sa/server;URI=spiffe://cluster.local/ns/${APP}/sa/caller`;
    expect(reverseText(map, xfcc)).toBe('By=spiffe://cluster.local/ns/app/sa/server;URI=spiffe://cluster.local/ns/app/sa/caller');
  });
});
