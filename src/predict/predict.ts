/**
 * `predict(world, flow)`: what Istio and Kubernetes do with one probe's traffic, layer by layer, in the order the
 * packets meet them:
 *   1. source capture — is the client's connection redirected to its own sidecar? (capture.ts)
 *   2. outbound — the client sidecar's decision: mTLS, plaintext, passthrough, blackhole, TLS origination
 *      (model/outbound.ts); uncaptured traffic leaves as the application wrote it
 *   3. NetworkPolicy — egress of the client, ingress of the server; a drop is a timeout (netpol.ts)
 *   4. destination capture — is it redirected to the server's sidecar? If not, the application sees the client
 *      directly and no Istio policy applies
 *   5. PeerAuthentication — STRICT refuses plaintext (reset) (model/peer-authentication.ts)
 *   6. RequestAuthentication — a refused JWT: 401 (403 for audiences) before any AuthorizationPolicy (model/jwt.ts)
 *   7. AuthorizationPolicy — deny: HTTP 403, TCP close (model/authorization.ts)
 * Pure; every layer adds one Reason, so a prediction explains itself.
 */
import { canFlushCapture, nonRootNote } from '../model/capabilities.js';
import {
  authenticateRequest,
  authorize,
  effectiveMtls,
  inboundTransport,
  normalizeRequest,
  outboundDecision,
  runIssuer,
  withToken,
  type AuthzRequest,
  type NormalizedRequest,
  type OutboundDecision,
  type RejectedRequest,
  type WireRequest,
} from '../model/index.js';
import { meshSni, serviceFqdn, SIDECAR_UID, spiffeId } from '../model/mesh.js';
import { remoteIpOf } from '../model/remote-ip.js';
import { inboundCapture, outboundCapture } from './capture.js';
import type { Failure } from './names.js';
import { networkPolicyDecision } from './netpol.js';
import { namedContainerPorts } from '../model/ports.js';
import type { EndpointInfo, ExternalInfo, Flow, Prediction, Reason, WorkloadInfo, World } from './types.js';

type Transport = 'mtls' | 'plaintext' | 'app-tls';

export class UnknownEndpointError extends Error {}

function find(world: World, key: string): EndpointInfo | undefined {
  return world.workloads.find((w) => w.key === key) ?? world.externals.find((e) => e.key === key);
}

function denied(explanation: Reason[], failure: Failure): Prediction {
  return { reach: false, failure, explanation };
}

const isStream = (p: Flow['protocol']) => p === 'tcp' || p === 'http' || p === 'https';

/** Failure of a connection the client's sidecar (or the server's) closes: HTTP gets a status, others a close. */
function closeFailure(flow: Flow, http: Failure): Failure {
  return flow.protocol === 'http' ? http : 'reset';
}

/**
 * The HTTP request as the client writes it: `http.raw` exactly (its Host, none on HTTP/1.0 without one), otherwise
 * what node's client sends for method/path/headers.
 */
export function wireOf(flow: Flow, host: string): WireRequest {
  // `http.jwt`: the same token the client would send, minted by the run's issuer and put where the probe says.
  const http = flow.http ? withToken(flow.http) : undefined;
  const raw = http?.raw;
  if (raw) {
    const hostHeader: Array<[string, string]> = raw.host !== undefined ? [['host', raw.host]] : raw.version === '1.0' ? [] : [['host', host]];
    return { method: raw.method, target: raw.requestTarget, version: raw.version, headers: [...hostHeader, ...(raw.headers ?? [])] };
  }
  return {
    method: http?.method ?? 'GET',
    target: http?.path ?? '/',
    version: '1.1',
    headers: [['host', host], ...Object.entries(http?.headers ?? {})],
  };
}

/** Every Envoy HTTP connection manager normalises the same way (meshConfig.pathNormalization), so either sidecar can. */
function normalized(world: World, flow: Flow, host: string): NormalizedRequest | RejectedRequest {
  return normalizeRequest(wireOf(flow, host), world.pathNormalization);
}

const hostOf = (dst: EndpointInfo): string => (dst.kind === 'external' ? dst.key : serviceFqdn(dst.name, dst.namespace));

function outbound(world: World, src: WorkloadInfo, dst: EndpointInfo, flow: Flow): OutboundDecision {
  const protocol = flow.protocol === 'http' ? 'http' : flow.protocol === 'https' ? 'https' : 'tcp';
  const common = {
    source: { namespace: src.namespace, labels: src.labels },
    meshOutboundPolicy: world.meshOutboundPolicy,
    sidecars: world.istio.sidecars,
    serviceEntries: world.istio.serviceEntries,
    destinationRules: world.istio.destinationRules,
    peerAuthentications: world.istio.peerAuthentications,
    ...(world.istioVersion ? { istioVersion: world.istioVersion } : {}),
  };
  if (dst.kind === 'external') {
    return outboundDecision({ ...common, destination: { host: dst.key, port: flow.port ?? 0, protocol, isMeshService: false, hasSidecar: false } });
  }
  return outboundDecision({
    ...common,
    destination: {
      host: serviceFqdn(dst.name, dst.namespace),
      port: flow.port ?? 0,
      protocol,
      isMeshService: true,
      hasSidecar: dst.sidecar,
      namespace: dst.namespace,
      workload: { labels: dst.labels, targetPort: flow.port ?? 0 },
    },
  });
}

/** Layers 1-2: what leaves the client, or the prediction when the client's sidecar already ends the flow. */
function leave(
  world: World,
  src: WorkloadInfo,
  dst: EndpointInfo,
  flow: Flow,
  why: Reason[],
): { transport: Transport; originated?: OutboundDecision } | Prediction {
  const self = dst.kind === 'workload' && dst.key === src.key;
  const uid = flow.asUser ?? src.uid;
  const flushed = flow.bypass === 'flush-capture' && canFlushCapture(src);
  if (flow.bypass === 'flush-capture' && !flushed) {
    why.push({ layer: 'source-capture', text: `flush-capture fails (iptables: Permission denied): ${nonRootNote(src)}, so the capture rules stay` });
  }
  const cap = outboundCapture({
    sidecar: src.sidecar,
    capture: src.capture,
    uid,
    flushed,
    protocol: flow.protocol,
    ...(flow.port !== undefined ? { port: flow.port } : {}),
    destination: dst.address,
    self,
  });
  why.push({ layer: 'source-capture', text: cap.reason });
  const appTransport: Transport = flow.protocol === 'https' ? 'app-tls' : 'plaintext';
  if (!cap.captured) return { transport: appTransport };
  if (self) {
    why.push({ layer: 'outbound', text: "the connection goes straight to the pod's own inbound listener, in plaintext" });
    return { transport: appTransport };
  }
  if (flow.protocol === 'http') {
    const n = normalized(world, flow, hostOf(dst));
    if (!n.ok) {
      why.push({ layer: 'outbound', text: `the client's sidecar refuses the request before routing: ${n.reason}` });
      return denied(why, 'any');
    }
  }
  const decision = outbound(world, src, dst, flow);
  why.push({ layer: 'outbound', text: decision.reason });
  switch (decision.action) {
    case 'blackhole':
      return denied(why, decision.response.kind === 'http' ? 'http-502' : 'reset');
    case 'mtls':
      return { transport: 'mtls' };
    case 'plaintext':
    case 'passthrough':
      return { transport: appTransport };
    case 'tls-originate':
      return { transport: 'plaintext', originated: decision };
  }
}

function atExternal(dst: ExternalInfo, flow: Flow, originated: OutboundDecision | undefined, why: Reason[]): Prediction {
  const port = dst.ports.find((p) => p.port === flow.port);
  if (originated && originated.action === 'tls-originate') {
    if (port?.protocol !== 'https') {
      why.push({ layer: 'application', text: `the sidecar originates TLS but ${dst.key}:${flow.port} does not speak TLS` });
      return denied(why, 'any');
    }
    if (originated.verification.verify && port.certificate === 'untrusted') {
      why.push({
        layer: 'application',
        text: `${dst.key} presents a certificate from an untrusted CA and the sidecar verifies it: the upstream handshake fails`,
      });
      return denied(why, 'any');
    }
  }
  why.push({ layer: 'application', text: `${dst.key} is outside the mesh: it accepts the connection` });
  return { reach: true, mtls: false, viaSidecar: false, ...(flow.protocol === 'http' ? { status: 200 } : {}), explanation: why };
}

/** Layers 4-6 at a workload. */
function atWorkload(world: World, src: WorkloadInfo, dst: WorkloadInfo, flow: Flow, transport: Transport, why: Reason[]): Prediction {
  const self = dst.key === src.key;
  const cap = self
    ? { captured: false, reason: 'locally generated traffic over lo does not pass PREROUTING: the inbound sidecar does not capture it' }
    : inboundCapture({
        sidecar: dst.sidecar,
        capture: dst.capture,
        protocol: flow.protocol,
        ...(flow.port !== undefined ? { port: flow.port } : {}),
        ...(world.istioVersion ? { istioVersion: world.istioVersion } : {}),
      });
  const selfInbound = self && transport !== 'mtls' && (flow.asUser ?? src.uid) === SIDECAR_UID && isStream(flow.protocol) && src.sidecar;
  if (!cap.captured && !selfInbound) {
    why.push({ layer: 'destination-capture', text: cap.reason });
    if (transport === 'mtls') {
      why.push({
        layer: 'application',
        text: "the client sidecar sends mutual TLS (auto mTLS) to a port the server's sidecar does not capture: the application receives a TLS handshake it does not speak",
      });
      return denied(why, 'any');
    }
    if (self)
      why.push({
        layer: 'application',
        text: 'the application sees its own address either way: whether a sidecar was in the path is not observable',
      });
    return {
      reach: true,
      mtls: false,
      ...(self ? {} : { viaSidecar: false }),
      ...(flow.protocol === 'http' ? { status: 200 } : {}),
      explanation: why,
    };
  }
  why.push({ layer: 'destination-capture', text: selfInbound ? 'uid 1337 to its own address is redirected to the inbound listener' : cap.reason });
  const mode = effectiveMtls({ namespace: dst.namespace, labels: dst.labels, port: flow.port ?? 0 }, world.istio.peerAuthentications);
  const inbound = inboundTransport(mode.mode, transport === 'mtls' ? 'mtls' : 'plaintext');
  why.push({ layer: 'peer-authentication', text: `${mode.reason}; ${inbound.reason}` });
  if (inbound.kind === 'reject') return denied(why, 'reset');
  if (inbound.kind === 'not-terminated') return denied(why, 'any');
  const n = flow.protocol === 'http' ? normalized(world, flow, hostOf(dst)) : undefined;
  if (n && !n.ok) {
    why.push({ layer: 'authorization', text: `the server's sidecar refuses the request before authorization: ${n.reason}` });
    return denied(why, 'any');
  }
  if (n && n.steps.length > 0) why.push({ layer: 'authorization', text: `${world.pathNormalization} path normalisation: ${n.steps.join('; ')}` });
  const requestAuthentications = world.istio.requestAuthentications;
  const authn =
    n && requestAuthentications.length > 0
      ? authenticateRequest(
          { headers: n.headers, path: n.path, method: n.method },
          requestAuthentications,
          { namespace: dst.namespace, labels: dst.labels },
          runIssuer().jwks,
          Math.floor(Date.now() / 1000),
          world.istioVersion ? { istioVersion: world.istioVersion } : {},
        )
      : undefined;
  if (authn && authn.trace.length > 0) why.push({ layer: 'authorization', text: `RequestAuthentication: ${authn.reason}` });
  if (authn?.kind === 'rejected') return denied(why, authn.status === 403 ? 'http-403' : 'http-401');
  const request: AuthzRequest = {
    ...(authn?.kind === 'authenticated' ? { auth: authn.auth } : {}),
    destination: { namespace: dst.namespace, labels: dst.labels, port: flow.port ?? 0, ip: dst.address },
    source: {
      ip: src.address,
      remoteIp: remoteIpOf(src.address, n?.ok ? n.headers : undefined),
      ...(transport === 'mtls' ? { principal: spiffeId(src.namespace, src.serviceAccount).slice('spiffe://'.length) } : {}),
    },
    // connection.sni: the client sidecar's outbound cluster name over mTLS; the probe's own server name on its TLS.
    ...(transport === 'mtls'
      ? { connection: { sni: meshSni(flow.port ?? 0, hostOf(dst)) } }
      : flow.protocol === 'https'
        ? { connection: { sni: hostOf(dst) } }
        : {}),
    protocol: flow.protocol === 'http' ? 'http' : 'tcp',
    ...(n ? { http: { method: n.method, path: n.policyPath, host: n.host, headers: n.headers } } : {}),
  };
  const authz = authorize(request, world.istio.authorizationPolicies);
  why.push({ layer: 'authorization', text: authz.reason });
  if (!authz.allowed) return denied(why, closeFailure(flow, 'http-403'));
  const mtls = transport === 'mtls';
  return {
    reach: true,
    mtls,
    ...(mtls ? { peer: spiffeId(src.namespace, src.serviceAccount) } : {}),
    ...(self ? {} : { viaSidecar: true }),
    ...(flow.protocol === 'http' ? { status: 200 } : {}),
    explanation: why,
  };
}

export function predict(world: World, flow: Flow): Prediction {
  const src = world.workloads.find((w) => w.key === flow.from);
  if (!src) throw new UnknownEndpointError(`${flow.from} is not a declared workload`);
  const dst = find(world, flow.to);
  if (!dst) throw new UnknownEndpointError(`${flow.to} is not a declared workload or external`);
  const why: Reason[] = [];
  const left = leave(world, src, dst, flow, why);
  if ('explanation' in left) return left;
  const self = dst.kind === 'workload' && dst.key === src.key;
  if (self) {
    why.push({ layer: 'network-policy', text: 'a pod calling itself never leaves the pod: NetworkPolicy does not apply' });
  } else {
    const np = networkPolicyDecision(
      world.networkPolicies,
      {
        source: { address: src.address, namespace: src.namespace, labels: src.labels },
        destination:
          dst.kind === 'workload'
            ? { address: dst.address, namespace: dst.namespace, labels: dst.labels, ports: namedContainerPorts(dst.ports) }
            : { address: dst.address, labels: {} },
        ...(flow.port !== undefined ? { port: flow.port } : {}),
        protocol: flow.protocol,
      },
      world.namespaceLabels,
    );
    why.push({ layer: 'network-policy', text: np.allowed ? np.reason : `${np.reason}: packets are dropped, the client times out` });
    if (!np.allowed) return denied(why, 'timeout');
  }
  return dst.kind === 'external' ? atExternal(dst, flow, left.originated, why) : atWorkload(world, src, dst, flow, left.transport, why);
}
