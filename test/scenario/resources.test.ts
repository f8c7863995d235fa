import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { RESOURCE_KINDS } from '../../src/scenario/resource-kinds.js';
import { validateResource } from '../../src/scenario/resources.js';

const meta = { name: 'x', namespace: 'app' };

describe('validateResource', () => {
  it('accepts a correct manifest of every supported kind and version', async () => {
    const specs: Record<string, unknown> = {
      PeerAuthentication: { mtls: { mode: 'STRICT' } },
      AuthorizationPolicy: { action: 'DENY', rules: [{ from: [{ source: { notNamespaces: ['app'] } }] }] },
      RequestAuthentication: { jwtRules: [{ issuer: 'https://issuer.test' }] },
      Sidecar: { egress: [{ hosts: ['./*'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } },
      ServiceEntry: { hosts: ['a.test'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' },
      DestinationRule: { host: 'a.test', trafficPolicy: { tls: { mode: 'SIMPLE' } } },
      VirtualService: { hosts: ['a.test'], tcp: [{ route: [{ destination: { host: 'a.test' } }] }] },
      Gateway: {
        selector: { istio: 'egressgateway' },
        servers: [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['a.test'], tls: { mode: 'PASSTHROUGH' } }],
      },
      NetworkPolicy: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }] },
    };
    for (const k of RESOURCE_KINDS) {
      const issues = await validateResource({ apiVersion: k.apiVersion, kind: k.kind, metadata: meta, spec: specs[k.kind] });
      expect([k.apiVersion, k.kind, issues]).toEqual([k.apiVersion, k.kind, []]);
    }
  });

  it('rejects an unknown field, which the kind schemas alone would accept', async () => {
    const issues = await validateResource({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: meta, spec: { rule: [] } });
    expect(issues).toEqual([{ path: ['spec', 'rule'], at: 'key', message: 'unknown field "rule" (did you mean "rules"?)' }]);
  });

  it('rejects unknown fields in maps of objects and in metadata', async () => {
    const issues = await validateResource({
      apiVersion: 'security.istio.io/v1beta1',
      kind: 'PeerAuthentication',
      metadata: { ...meta, lables: {} },
      spec: { portLevelMtls: { 8080: { mod: 'DISABLE' } } },
    });
    expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['metadata.lables', 'unknown field "lables" (did you mean "labels"?)'],
      ['spec.portLevelMtls.8080.mod', 'unknown field "mod" (did you mean "mode"?)'],
    ]);
  });

  it('reports types and missing required fields', async () => {
    const issues = await validateResource({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: meta,
      spec: { trafficPolicy: { tls: { mode: 3 } } },
    });
    expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['spec.host', 'required field is missing'],
      ['spec.trafficPolicy.tls.mode', 'must be of type string'],
      ['spec.trafficPolicy.tls.mode', 'must be one of: DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL'],
    ]);
  });

  it('names the supported kinds for an unknown kind', async () => {
    const [issue] = await validateResource({ apiVersion: 'v1', kind: 'Pod', metadata: meta });
    expect(issue.path).toEqual(['kind']);
    expect(issue.message).toMatch(
      /^unsupported resource kind "Pod"; supported: PeerAuthentication \(security.istio.io\/v1, security.istio.io\/v1beta1\), /,
    );
    expect(issue.message).toContain('NetworkPolicy (networking.k8s.io/v1)');
  });

  it('uses field trees generated from the installed model packages', () => {
    for (const k of RESOURCE_KINDS) {
      const tree = JSON.parse(readFileSync(`schema/resources/${k.shapeFile}`, 'utf8')) as { generatedFrom: string; kind: string };
      const installed = JSON.parse(readFileSync(`node_modules/${k.pkg}/package.json`, 'utf8')) as { version: string };
      expect([k.shapeFile, tree.generatedFrom, tree.kind]).toEqual([k.shapeFile, `${k.pkg}@${installed.version}`, k.kind]);
    }
  });
});
