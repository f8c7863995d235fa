import { describe, expect, it } from '@jest/globals';
import { outboundDecision, tlsVerification, type OutboundInput } from '../../src/model/index.js';
import { parsed } from './fixtures.js';

const sleep = { namespace: 'foo', labels: { app: 'sleep' } };
const external = (host = 'httpbin.org', port = 80, protocol: 'http' | 'tcp' | 'https' = 'http') => ({
  host,
  port,
  protocol,
  isMeshService: false,
  hasSidecar: false,
});
const meshSvc = (host = 'httpbin.bar.svc.cluster.local', hasSidecar = true) => ({
  host,
  port: 8000,
  protocol: 'http' as const,
  isMeshService: true,
  hasSidecar,
});
const se = (ns: string, spec: object, name = 'se') => parsed('ServiceEntry', ns, name, spec);
const httpbinEntry = se('foo', {
  hosts: ['httpbin.org'],
  ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
  resolution: 'DNS',
  location: 'MESH_EXTERNAL',
});
const decide = (input: Partial<OutboundInput> & Pick<OutboundInput, 'destination'>) => outboundDecision({ source: sleep, ...input });

describe('outboundDecision: auto mTLS (ops/configuration/traffic-management/tls-configuration "Auto mTLS")', () => {
  it('destination with a sidecar → mTLS; without → plaintext', () => {
    expect(decide({ destination: meshSvc() })).toMatchObject({ action: 'mtls', registeredBy: 'mesh-service' });
    expect(decide({ destination: meshSvc(undefined, false) })).toMatchObject({ action: 'plaintext' });
  });

  it('namespace PeerAuthentication DISABLE or a workload port DISABLE → plaintext', () => {
    const nsDisable = parsed('PeerAuthentication', 'bar', 'default', { mtls: { mode: 'DISABLE' } });
    expect(decide({ destination: meshSvc(), peerAuthentications: [nsDisable] }).action).toBe('plaintext');
    const portDisable = parsed('PeerAuthentication', 'bar', 'httpbin', {
      selector: { matchLabels: { app: 'httpbin' } },
      portLevelMtls: { '8080': { mode: 'DISABLE' } },
    });
    const destination = { ...meshSvc(), workload: { labels: { app: 'httpbin' }, targetPort: 8080 } };
    expect(decide({ destination, peerAuthentications: [portDisable] }).action).toBe('plaintext');
    expect(
      decide({ destination: { ...destination, workload: { labels: { app: 'httpbin' }, targetPort: 80 } }, peerAuthentications: [portDisable] })
        .action,
    ).toBe('mtls');
  });

  it('a MESH_EXTERNAL ServiceEntry never gets auto mTLS', () => {
    expect(decide({ destination: external(), serviceEntries: [httpbinEntry] })).toMatchObject({ action: 'plaintext', registeredBy: { name: 'se' } });
  });
});

describe('outboundDecision: DestinationRule tls.mode', () => {
  const dr = (ns: string, host: string, trafficPolicy: object, name = 'dr', exportTo?: string[]) =>
    parsed('DestinationRule', ns, name, { host, trafficPolicy, ...(exportTo ? { exportTo } : {}) });

  it('DISABLE turns auto mTLS off; ISTIO_MUTUAL forces mTLS to a sidecar-less destination', () => {
    expect(decide({ destination: meshSvc(), destinationRules: [dr('bar', 'httpbin', { tls: { mode: 'DISABLE' } })] })).toMatchObject({
      action: 'plaintext',
      destinationRule: { namespace: 'bar' },
    });
    expect(
      decide({
        destination: meshSvc(undefined, false),
        destinationRules: [dr('bar', 'httpbin.bar.svc.cluster.local', { tls: { mode: 'ISTIO_MUTUAL' } })],
      }).action,
    ).toBe('mtls');
  });

  it('short host names resolve in the DestinationRule namespace, not the client namespace', () => {
    expect(decide({ destination: meshSvc(), destinationRules: [dr('foo', 'httpbin', { tls: { mode: 'DISABLE' } })] }).action).toBe('mtls');
  });

  it('portLevelSettings override trafficPolicy.tls for their port', () => {
    const rule = dr('bar', 'httpbin', { tls: { mode: 'DISABLE' }, portLevelSettings: [{ port: { number: 8000 }, tls: { mode: 'ISTIO_MUTUAL' } }] });
    expect(decide({ destination: meshSvc(), destinationRules: [rule] }).action).toBe('mtls');
    expect(decide({ destination: { ...meshSvc(), port: 9000 }, destinationRules: [rule] }).action).toBe('plaintext');
  });

  it('client-namespace rule beats the service-namespace rule; exact host beats wildcard; exportTo "." hides it', () => {
    const svcNs = dr('bar', 'httpbin', { tls: { mode: 'DISABLE' } }, 'svc');
    const clientNs = dr('foo', 'httpbin.bar.svc.cluster.local', { tls: { mode: 'ISTIO_MUTUAL' } }, 'client');
    expect(decide({ destination: meshSvc(undefined, false), destinationRules: [svcNs, clientNs] })).toMatchObject({
      destinationRule: { name: 'client' },
    });
    const wildcard = dr('bar', '*.bar.svc.cluster.local', { tls: { mode: 'ISTIO_MUTUAL' } }, 'wild');
    expect(decide({ destination: meshSvc(), destinationRules: [wildcard, svcNs] })).toMatchObject({
      action: 'plaintext',
      destinationRule: { name: 'svc' },
    });
    const hidden = dr('baz', 'httpbin.bar.svc.cluster.local', { tls: { mode: 'DISABLE' } }, 'hidden', ['.']);
    expect(decide({ destination: meshSvc(), destinationRules: [hidden] }).action).toBe('mtls');
  });

  it('SIMPLE originates TLS (tasks/traffic-management/egress/egress-tls-origination)', () => {
    const entry = se('foo', {
      hosts: ['edition.cnn.com'],
      ports: [
        { number: 80, name: 'http-port', protocol: 'HTTP', targetPort: 443 },
        { number: 443, name: 'https-port', protocol: 'HTTPS' },
      ],
      resolution: 'DNS',
    });
    const rule = dr('foo', 'edition.cnn.com', { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE' } }] });
    const d = decide({ destination: external('edition.cnn.com', 80), serviceEntries: [entry], destinationRules: [rule], istioVersion: '1.24.0' });
    expect(d).toMatchObject({ action: 'tls-originate', mode: 'SIMPLE', sni: 'edition.cnn.com', verification: { verify: true, caSource: 'system' } });
    const old = decide({ destination: external('edition.cnn.com', 80), serviceEntries: [entry], destinationRules: [rule], istioVersion: '1.20.3' });
    expect(old).toMatchObject({ action: 'tls-originate', verification: { verify: false, caSource: 'none' } });
  });
});

describe('tlsVerification (ops/best-practices/security "Configure TLS verification in Destination Rule"; istio/istio#48225)', () => {
  it('caCertificates verifies in every version', () => {
    expect(tlsVerification('1.18', { caCertificates: '/etc/ssl/certs/ca-certificates.crt' })).toMatchObject({
      verify: true,
      caSource: 'caCertificates',
    });
  });
  it('without caCertificates: no verification up to 1.20, system CAs since 1.21', () => {
    expect(tlsVerification('1.20.8', {})).toMatchObject({ verify: false, caSource: 'none' });
    expect(tlsVerification('1.21.0', {})).toMatchObject({ verify: true, caSource: 'system' });
    expect(tlsVerification('1.22.0-beta.1', {})).toMatchObject({ verify: true, caSource: 'system' });
    expect(tlsVerification(undefined, {})).toMatchObject({ verify: true, caSource: 'system' });
  });
  it('insecureSkipVerify: true turns verification off, even with caCertificates', () => {
    expect(tlsVerification('1.24', { caCertificates: '/ca.pem', insecureSkipVerify: true })).toMatchObject({ verify: false, caSource: 'none' });
  });
});

describe('outboundDecision: outboundTrafficPolicy (tasks/traffic-management/egress/egress-control)', () => {
  it('ALLOW_ANY (default) passes unknown hosts through', () => {
    expect(decide({ destination: external() }).action).toBe('passthrough');
  });

  it('REGISTRY_ONLY blackholes unknown hosts: HTTP 502, TCP/TLS close', () => {
    expect(decide({ destination: external(), meshOutboundPolicy: 'REGISTRY_ONLY' })).toMatchObject({
      action: 'blackhole',
      response: { kind: 'http', status: 502 },
    });
    expect(decide({ destination: external('edition.cnn.com', 443, 'https'), meshOutboundPolicy: 'REGISTRY_ONLY' })).toMatchObject({
      action: 'blackhole',
      response: { kind: 'close' },
    });
  });

  it('a ServiceEntry for host AND port opens it ("Access an external HTTP service")', () => {
    expect(decide({ destination: external(), meshOutboundPolicy: 'REGISTRY_ONLY', serviceEntries: [httpbinEntry] }).action).toBe('plaintext');
    expect(
      decide({ destination: external('httpbin.org', 443, 'https'), meshOutboundPolicy: 'REGISTRY_ONLY', serviceEntries: [httpbinEntry] }),
    ).toMatchObject({ action: 'blackhole' });
  });

  it('wildcard ServiceEntry hosts cover subdomains only', () => {
    const wiki = se('foo', { hosts: ['*.wikipedia.org'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }] });
    expect(
      decide({ destination: external('en.wikipedia.org', 443, 'https'), meshOutboundPolicy: 'REGISTRY_ONLY', serviceEntries: [wiki] }).action,
    ).toBe('plaintext');
    expect(decide({ destination: external('wikipedia.org', 443, 'https'), meshOutboundPolicy: 'REGISTRY_ONLY', serviceEntries: [wiki] }).action).toBe(
      'blackhole',
    );
  });

  it('ServiceEntry exportTo "." only serves its own namespace', () => {
    const local = se('bar', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], exportTo: ['.'] });
    expect(decide({ destination: external(), meshOutboundPolicy: 'REGISTRY_ONLY', serviceEntries: [local] }).action).toBe('blackhole');
    expect(
      outboundDecision({
        source: { namespace: 'bar', labels: {} },
        destination: external(),
        meshOutboundPolicy: 'REGISTRY_ONLY',
        serviceEntries: [local],
      }).action,
    ).toBe('plaintext');
  });

  it('a namespace Sidecar outboundTrafficPolicy overrides the mesh setting, only in its namespace', () => {
    const sidecar = parsed('Sidecar', 'foo', 'default', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    expect(decide({ destination: external(), sidecars: [sidecar] })).toMatchObject({ action: 'blackhole' });
    expect(outboundDecision({ source: { namespace: 'bar', labels: {} }, destination: external(), sidecars: [sidecar] }).action).toBe('passthrough');
    const rootSidecar = parsed('Sidecar', 'istio-system', 'default', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    expect(outboundDecision({ source: { namespace: 'bar', labels: {} }, destination: external(), sidecars: [rootSidecar] }).action).toBe('blackhole');
    const allowAny = parsed('Sidecar', 'foo', 'default', { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } });
    expect(decide({ destination: external(), sidecars: [allowAny], meshOutboundPolicy: 'REGISTRY_ONLY' }).action).toBe('passthrough');
  });
});

describe('outboundDecision: Sidecar egress hosts (reference/config/networking/sidecar)', () => {
  const egress = (hosts: string[], ns = 'foo', extra: object = {}) => parsed('Sidecar', ns, 'default', { egress: [{ hosts }], ...extra });

  it('"./*" + "istio-system/*" hides other namespaces: blackhole under REGISTRY_ONLY, passthrough (no mTLS) under ALLOW_ANY', () => {
    const sidecar = egress(['./*', 'istio-system/*']);
    expect(decide({ destination: meshSvc(), sidecars: [sidecar], meshOutboundPolicy: 'REGISTRY_ONLY' }).action).toBe('blackhole');
    expect(decide({ destination: meshSvc(), sidecars: [sidecar] }).action).toBe('passthrough');
    expect(decide({ destination: meshSvc('web.foo.svc.cluster.local'), sidecars: [sidecar] }).action).toBe('mtls');
  });

  it('"<ns>/<host>" imports one host; "*/*" everything; "~/*" nothing', () => {
    expect(decide({ destination: meshSvc(), sidecars: [egress(['bar/httpbin.bar.svc.cluster.local'])] }).action).toBe('mtls');
    expect(decide({ destination: meshSvc(), sidecars: [egress(['*/*'])] }).action).toBe('mtls');
    expect(decide({ destination: meshSvc(), sidecars: [egress(['~/*'])], meshOutboundPolicy: 'REGISTRY_ONLY' }).action).toBe('blackhole');
  });

  it('a ServiceEntry must be imported too: by its own namespace', () => {
    const sidecar = egress(['./*'], 'foo', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    const elsewhere = se('egress', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] });
    expect(decide({ destination: external(), sidecars: [sidecar], serviceEntries: [elsewhere] }).action).toBe('blackhole');
    expect(decide({ destination: external(), sidecars: [sidecar], serviceEntries: [httpbinEntry] }).action).toBe('plaintext');
  });

  it('a workload-selector Sidecar beats the namespace Sidecar for the workloads it selects', () => {
    const nsWide = egress(['*/*'], 'foo', { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } });
    const forSleep = parsed(
      'Sidecar',
      'foo',
      'sleep',
      { workloadSelector: { labels: { app: 'sleep' } }, outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } },
      1,
    );
    expect(decide({ destination: external(), sidecars: [nsWide, forSleep] })).toMatchObject({ action: 'blackhole' });
    expect(
      outboundDecision({ source: { namespace: 'foo', labels: { app: 'web' } }, destination: external(), sidecars: [nsWide, forSleep] }).action,
    ).toBe('passthrough');
  });
});
