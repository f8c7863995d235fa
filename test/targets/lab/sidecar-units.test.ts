/** The sidecar's pure pieces: ClientHello ALPN, routing (Gateway/VirtualService), registry, decision-log lines, config. */
import { describe, expect, test } from '@jest/globals';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { resetConnection } from '../../../src/targets/lab/sidecar/reset.js';
import { parseRecordLine } from '../../../src/targets/lab/sidecar/records.js';
import { egressGatewayPorts, planLab } from '../../../src/targets/lab/plan.js';
import { registryOf, sidecarConfig } from '../../../src/targets/lab/deploy.js';
import { clientHelloAlpn } from '../../../src/targets/lab/sidecar/peek.js';
import { portProtocol, Registry } from '../../../src/targets/lab/sidecar/registry.js';
import { gatewayAccepts, parseGateway, parseVirtualService, routeFor, unsupportedRoutingFields } from '../../../src/targets/lab/sidecar/routes.js';
import { makeScenario } from './helpers.js';
import { realClientHello } from '../../support/client-hello.js';

describe("ClientHello ALPN (how inbound tells mesh mTLS from an application's own TLS)", () => {
  test('reads the offered protocols from a real ClientHello', async () => {
    expect(clientHelloAlpn(await realClientHello({ alpn: ['istio-peer-exchange', 'istio'] }))).toEqual(['istio-peer-exchange', 'istio']);
    expect(clientHelloAlpn(await realClientHello({ alpn: ['http/1.1'] }))).toEqual(['http/1.1']);
  });
  test('plaintext and truncated input give no protocols', async () => {
    expect(clientHelloAlpn(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual([]);
    expect(clientHelloAlpn((await realClientHello({ alpn: ['istio'] })).subarray(0, 60))).toEqual([]);
  });
  test('a plain net client is not mistaken for TLS', async () => {
    const got = await new Promise<Buffer>((resolve) => {
      const server = createServer((s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy(), server.close())));
      server.listen(0, '127.0.0.1', () => connect((server.address() as { port: number }).port, '127.0.0.1').end('MESHPROBE x\n'));
    });
    expect(clientHelloAlpn(got)).toEqual([]);
  });
});

const GW = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'istio-egressgateway', namespace: 'istio-system' },
  spec: { selector: { istio: 'egressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['edition.cnn.com'] }] },
};
const VS = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'direct-cnn', namespace: 'default' },
  spec: {
    hosts: ['edition.cnn.com'],
    gateways: ['istio-system/istio-egressgateway', 'mesh'],
    http: [
      {
        match: [{ gateways: ['mesh'], port: 80 }],
        route: [{ destination: { host: 'istio-egressgateway.istio-system.svc.cluster.local', subset: 'cnn', port: { number: 80 } }, weight: 100 }],
      },
      {
        match: [{ gateways: ['istio-system/istio-egressgateway'], port: 80 }],
        route: [{ destination: { host: 'edition.cnn.com', port: { number: 80 } }, weight: 100 }],
      },
    ],
  },
};

describe("routing: the egress-gateway task's resources", () => {
  const vs = [parseVirtualService(VS)];
  test('from a sidecar (mesh) the host goes to the egress gateway; from the gateway on to the external', () => {
    expect(routeFor(vs, 'mesh', 'edition.cnn.com', 80)).toMatchObject({ host: 'istio-egressgateway.istio-system.svc.cluster.local', port: 80 });
    expect(routeFor(vs, 'istio-system/istio-egressgateway', 'edition.cnn.com', 80)).toMatchObject({ host: 'edition.cnn.com', port: 80 });
  });
  test('other hosts, ports and gateways have no route', () => {
    expect(routeFor(vs, 'mesh', 'www.google.com', 80)).toBeUndefined();
    expect(routeFor(vs, 'mesh', 'edition.cnn.com', 443)).toBeUndefined();
    expect(routeFor(vs, 'default/other-gateway', 'edition.cnn.com', 80)).toBeUndefined();
  });
  test('Gateway servers accept their hosts on their port only', () => {
    const gw = parseGateway(GW);
    expect(gatewayAccepts(gw, 80, 'edition.cnn.com')).toBe(true);
    expect(gatewayAccepts(gw, 80, 'www.google.com')).toBe(false);
    expect(gatewayAccepts(gw, 443, 'edition.cnn.com')).toBe(false);
  });
  test('what is outside the emulated subset is named', () => {
    expect(unsupportedRoutingFields(VS)).toEqual([]);
    expect(unsupportedRoutingFields(GW)).toEqual([]);
    expect(unsupportedRoutingFields({ ...VS, spec: { ...VS.spec, tls: [] } })).toEqual(['spec.tls']);
    const split = {
      ...VS,
      spec: {
        hosts: ['x'],
        http: [
          {
            route: [
              { destination: { host: 'a' }, weight: 50 },
              { destination: { host: 'b' }, weight: 50 },
            ],
            retries: {},
          },
        ],
      },
    };
    expect(unsupportedRoutingFields(split)).toEqual(['spec.http[0].retries', 'spec.http[0].route[1] (traffic splitting)']);
    const tlsServer = {
      ...GW,
      spec: { ...GW.spec, servers: [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['x'], tls: { mode: 'PASSTHROUGH' } }] },
    };
    expect(unsupportedRoutingFields(tlsServer)).toEqual(['spec.servers[0].tls', 'spec.servers[0].port.protocol=TLS']);
  });
});

const scenario = makeScenario('units', {
  workloads: [
    { name: 'web', namespace: 'app', serviceAccount: 'web-sa', ports: [{ port: 8080, protocol: 'http' }] },
    { name: 'client', namespace: 'legacy' },
  ],
  externals: [{ name: 'edition.cnn.com', ports: [{ port: 80, protocol: 'http' }] }],
  resources: [GW, VS],
  probes: [{ name: 'p', from: 'legacy/client', to: 'app/web', port: 8080, protocol: 'http', expect: { reach: true } }],
});

describe('the lab registry and sidecar config', () => {
  const plan = planLab(scenario, 'abcd12');
  test('a Gateway selecting istio: egressgateway adds the egress gateway pod in istio-system', () => {
    expect(egressGatewayPorts(scenario)).toEqual([80]);
    const gw = plan.hosts.find((h) => h.egressGateway);
    expect(gw).toMatchObject({ key: 'istio-system/istio-egressgateway', sidecar: false, address: '10.244.1.4' });
    expect(gw?.workload?.labels).toMatchObject({ istio: 'egressgateway' });
  });
  test('identities: SPIFFE from namespace and service account; no identity without a sidecar', () => {
    const reg = registryOf(plan);
    expect(reg.find((h) => h.key === 'app/web')?.spiffe).toBe('spiffe://cluster.local/ns/app/sa/web-sa');
    expect(reg.find((h) => h.key === 'legacy/client')?.spiffe).toBeUndefined();
    expect(reg.find((h) => h.key === 'istio-system/istio-egressgateway')).toMatchObject({ gateway: true, sidecar: true });
  });
  test('names resolve with the client namespace; bare short names of other namespaces do not', () => {
    const reg = new Registry(registryOf(plan));
    expect(reg.name('web', 'app')?.key).toBe('app/web');
    expect(reg.name('web.app')?.key).toBe('app/web');
    expect(reg.name('web', 'legacy')).toBeUndefined();
    expect(reg.name('EDITION.cnn.com')?.key).toBe('edition.cnn.com');
    expect(reg.address('10.244.1.2')?.host).toBe('web.app.svc.cluster.local');
  });
  test('port protocol: declared port, then a ServiceEntry port, else tcp', () => {
    const reg = new Registry(registryOf(plan));
    const se = [
      {
        kind: 'ServiceEntry' as const,
        metadata: { name: 's', namespace: 'app', order: 0 },
        hosts: ['api.test'],
        ports: [{ number: 8000, protocol: 'HTTP' }],
        location: 'MESH_EXTERNAL' as const,
        exportTo: [],
      },
    ];
    expect(portProtocol(reg.address('10.244.1.2'), 'web.app.svc.cluster.local', 8080, [])).toBe('http');
    expect(portProtocol(undefined, 'api.test', 8000, se)).toBe('http');
    expect(portProtocol(undefined, 'api.test', 9000, se)).toBe('tcp');
  });
  test('the gateway runs in gateway mode on the Gateway ports; sidecars get the mesh policy and the lab CAs', () => {
    const s2 = { ...scenario, spec: { ...scenario.spec, mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' as const } } };
    const gw = sidecarConfig(s2, plan, plan.hosts.find((h) => h.egressGateway)!, '/lab', '1.30.0');
    expect(gw).toMatchObject({
      mode: 'gateway',
      gatewayPorts: [80],
      meshOutboundPolicy: 'REGISTRY_ONLY',
      meshCaFile: '/lab/ca-mesh.crt',
      systemCaFile: '/lab/ca-trusted.crt',
    });
    expect(sidecarConfig(s2, plan, plan.hosts[0], '/lab', '1.30.0')).toMatchObject({
      mode: 'sidecar',
      self: { spiffe: 'spiffe://cluster.local/ns/app/sa/web-sa' },
    });
    expect(() => sidecarConfig(s2, plan, plan.hosts[1], '/lab', '1.30.0')).toThrow(/no sidecar identity/);
  });
});

describe('decision-log lines', () => {
  test('the JSON after " | " is the record; other lines are ignored', () => {
    const rec = {
      dir: 'inbound',
      from: '10.244.1.3:4000',
      to: '10.244.1.2:9000',
      result: 'connected',
      reason: 'allowed | by x',
      upstream: '127.0.0.6:5000',
      peer: 'spiffe://cluster.local/ns/a/sa/b',
    };
    expect(parseRecordLine(`2026-01-01T00:00:00Z inbound a -> b connected | ${JSON.stringify(rec)}`)).toEqual(rec);
    expect(parseRecordLine('ready')).toBeUndefined();
    expect(parseRecordLine('x | {broken')).toBeUndefined();
  });
});

describe('resetting a connection (resetConnection)', () => {
  async function pair(): Promise<{ client: Socket; server: Server; accepted: Promise<Socket> }> {
    let accept: (s: Socket) => void = () => undefined;
    const accepted = new Promise<Socket>((r) => (accept = r));
    const server = createServer((s) => {
      s.pause();
      accept(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    return { client, server, accepted };
  }
  const closed = (s: Socket) => new Promise<boolean>((r) => (s.once('close', () => r(true)), setTimeout(() => r(false), 1_000)));

  test('right after end() (a shutdown pending) it still closes the socket: no EINVAL, no handle left closing forever', async () => {
    for (const when of ['sync', 'nextTick'] as const) {
      const { client, server } = await pair();
      const errors: string[] = [];
      client.on('error', (e) => errors.push(e.message));
      const isClosed = closed(client);
      client.end();
      const go = () => resetConnection(client);
      if (when === 'sync') go();
      else process.nextTick(go);
      expect(await isClosed).toBe(true);
      expect(errors).toEqual([]);
      server.close();
    }
  });

  test('a connection not ended is reset: the peer sees ECONNRESET, as from Envoy', async () => {
    const { client, server, accepted } = await pair();
    const peer = await accepted;
    const peerError = new Promise<string | undefined>(
      (r) => (peer.once('error', (e: NodeJS.ErrnoException) => r(e.code)), peer.once('close', () => r(undefined))),
    );
    peer.resume();
    const isClosed = closed(client);
    resetConnection(client);
    expect(await peerError).toBe('ECONNRESET');
    expect(await isClosed).toBe(true);
    server.close();
  });
});
