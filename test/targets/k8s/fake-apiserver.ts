/**
 * A fake Kubernetes API server for the cluster targets' tests: plain HTTP on 127.0.0.1 plus the exec and
 * port-forward websockets (channel protocols v4 and v5). It implements just what meshprobe calls, keeps a
 * request log, and plays the agent inside "pods" so a target can be driven end to end.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import YAML from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import type { Observation, ProbeRequest, ProbeResult } from '../../../src/agent/types.js';

export interface LoggedRequest {
  method: string;
  path: string;
  /** namespace the request is about (undefined for cluster-scoped and discovery) */
  namespace?: string;
}

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

export interface FakeOptions {
  /** Channel protocol the exec websocket picks. */
  protocol?: 'v5.channel.k8s.io' | 'v4.channel.k8s.io';
  /** Workloads whose pods never become ready. */
  neverReady?: string[];
  /** Requests answered 403 Forbidden. */
  forbid?: (method: string, path: string) => boolean;
  /** Commands (joined with spaces) whose exec stream is dropped after some output, without a status. */
  dropExec?: (command: string) => boolean;
  /** `istioctl`-free check of the xDS counter: value served at each metrics read, in order (last repeats). */
  xdsRejects?: number[];
  istiodImage?: string;
  /** outboundTrafficPolicy.mode in the `istio` mesh ConfigMap; 'absent' leaves the ConfigMap out. */
  meshMode?: 'ALLOW_ANY' | 'REGISTRY_ONLY' | 'absent';
  /** Delay before a pod turns Ready. */
  readyAfterMs?: number;
  /** How long a `call` exec takes before it answers (to see which execs overlap). */
  callMs?: number;
}

const RESOURCES: Record<string, Array<[resource: string, kind: string, namespaced: boolean]>> = {
  '/api/v1': [
    ['namespaces', 'Namespace', false],
    ['pods', 'Pod', true],
    ['services', 'Service', true],
    ['serviceaccounts', 'ServiceAccount', true],
    ['configmaps', 'ConfigMap', true],
    ['events', 'Event', true],
  ],
  '/apis/apps/v1': [['deployments', 'Deployment', true]],
  '/apis/security.istio.io/v1': [
    ['peerauthentications', 'PeerAuthentication', true],
    ['authorizationpolicies', 'AuthorizationPolicy', true],
  ],
  '/apis/networking.istio.io/v1': [
    ['sidecars', 'Sidecar', true],
    ['serviceentries', 'ServiceEntry', true],
    ['destinationrules', 'DestinationRule', true],
  ],
  '/apis/networking.k8s.io/v1': [['networkpolicies', 'NetworkPolicy', true]],
  '/apis/apiextensions.k8s.io/v1': [['customresourcedefinitions', 'CustomResourceDefinition', false]],
  '/apis/admissionregistration.k8s.io/v1': [['mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false]],
};

export class FakeApiServer {
  readonly log: LoggedRequest[] = [];
  readonly objects = new Map<string, Obj>();
  /** nonce → observation recorded at `ns/pod` */
  readonly observations = new Map<string, { pod: string; observation: Observation }>();
  readonly execs: Array<{ namespace: string; pod: string; command: string[]; stdin: string; protocol: string; started: number; ended?: number }> = [];
  /** Every apply body exactly as it arrived, with its path and content type. */
  readonly applied: Array<{ path: string; contentType?: string; body: string }> = [];
  private server = http.createServer((req, res) => void this.handle(req, res));
  private wss: WebSocketServer;
  private watches = new Set<http.ServerResponse>();
  private metricsReads = 0;
  port = 0;

  constructor(readonly options: FakeOptions = {}) {
    this.wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (protocols) => {
        const wanted = this.options.protocol ?? 'v5.channel.k8s.io';
        return protocols.has(wanted) ? wanted : false;
      },
    });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url!, 'http://x');
      this.record(req.method ?? 'GET', url);
      if (this.options.forbid?.('GET', url.pathname)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.stream(ws, url));
    });
    this.addIstiod();
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const w of this.watches) w.end();
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Namespaces any request touched. */
  namespacesTouched(): Set<string> {
    return new Set(this.log.map((r) => r.namespace).filter((n): n is string => !!n));
  }

  private addIstiod(): void {
    this.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'istiod-7f9c', namespace: 'istio-system', labels: { app: 'istiod' } },
      status: { phase: 'Running' },
    });
    this.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'istiod', namespace: 'istio-system', labels: { app: 'istiod' } },
      spec: { template: { spec: { containers: [{ name: 'discovery', image: this.options.istiodImage ?? 'docker.io/istio/pilot:1.26.2' }] } } },
    });
    if (this.options.meshMode !== 'absent') {
      const mesh = `accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: ${this.options.meshMode ?? 'ALLOW_ANY'}\n`;
      this.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh } });
    }
  }

  /** Puts an object as if the cluster already had it. */
  seed(o: Obj): void {
    this.put(o);
  }

  private key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}/${namespace ?? ''}/${name}`;
  }

  private put(o: Obj): void {
    this.objects.set(this.key(o.kind, o.metadata.namespace, o.metadata.name), o);
  }

  list(kind: string, namespace?: string): Obj[] {
    return [...this.objects.values()].filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace));
  }

  private record(method: string, url: URL): void {
    const m = /^\/api(?:s\/[^/]+)?\/v1\/namespaces\/([^/]+)/.exec(url.pathname);
    this.log.push({ method, path: url.pathname + url.search, ...(m ? { namespace: decodeURIComponent(m[1]) } : {}) });
  }

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(res: http.ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url!, 'http://x');
    const method = req.method ?? 'GET';
    this.record(method, url);
    const body = await new Promise<string>((r) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => r(b));
    });
    if (this.options.forbid?.(method, url.pathname)) {
      return this.status(res, 403, 'Forbidden', `${method} ${url.pathname} is forbidden: User "fake" cannot do this`);
    }
    const group = Object.keys(RESOURCES).find((g) => url.pathname === g || url.pathname.startsWith(`${g}/`));
    if (!group) return this.status(res, 404, 'NotFound', `no route ${url.pathname}`);
    if (url.pathname === group) {
      return this.send(res, 200, {
        kind: 'APIResourceList',
        groupVersion: group.replace(/^\/apis?\//, ''),
        resources: RESOURCES[group].map(([name, kind, namespaced]) => ({ name, kind, namespaced, singularName: '', verbs: [] })),
      });
    }
    const rest = url.pathname
      .slice(group.length + 1)
      .split('/')
      .map(decodeURIComponent);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest.splice(0, 2);
    }
    const [resource, name, sub] = rest;
    const entry = RESOURCES[group].find(([r]) => r === resource);
    if (!entry) return this.status(res, 404, 'NotFound', `unknown resource ${resource}`);
    const kind = entry[1];
    if (kind === 'Namespace' && rest.length === 1 && namespace)
      return this.route(req, res, url, method, body, 'Namespace', undefined, namespace, undefined);
    return this.route(req, res, url, method, body, kind, namespace, name, sub);
  }

  private route(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    method: string,
    body: string,
    kind: string,
    namespace: string | undefined,
    name: string | undefined,
    sub: string | undefined,
  ): void {
    if (method === 'PATCH' && name) {
      this.applied.push({ path: url.pathname, contentType: req.headers['content-type'], body });
      if (req.headers['content-type'] !== 'application/apply-patch+yaml')
        return this.status(res, 415, 'UnsupportedMediaType', 'only server-side apply');
      if (url.searchParams.get('fieldManager') !== 'meshprobe') return this.status(res, 422, 'Invalid', 'fieldManager missing');
      if (namespace && kind !== 'Namespace' && !this.objects.has(this.key('Namespace', undefined, namespace))) {
        return this.status(res, 404, 'NotFound', `namespaces "${namespace}" not found`);
      }
      const obj = YAML.parse(body) as Obj;
      this.put(obj);
      if (kind === 'Deployment') this.schedulePod(obj);
      return this.send(res, 200, obj);
    }
    if (method === 'DELETE' && name) {
      const k = this.key(kind, namespace, name);
      if (!this.objects.delete(k)) return this.status(res, 404, 'NotFound', `${kind} ${name} not found`);
      if (kind === 'Namespace') for (const [key, o] of this.objects) if (o.metadata.namespace === name) this.objects.delete(key);
      return this.send(res, 200, { kind: 'Status', status: 'Success' });
    }
    if (method !== 'GET') return this.status(res, 405, 'MethodNotAllowed', method);
    if (name && sub === 'log') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(`log of ${namespace}/${name} container ${url.searchParams.get('container')}\n`);
    }
    if (name) {
      const o = this.objects.get(this.key(kind, namespace, name));
      return o ? this.send(res, 200, o) : this.status(res, 404, 'NotFound', `${kind} ${name} not found`);
    }
    if (url.searchParams.get('watch') === 'true') return this.watch(res, kind, namespace, url.searchParams.get('labelSelector'));
    let items = this.select(kind, namespace, url.searchParams.get('labelSelector'));
    const field = url.searchParams.get('fieldSelector');
    if (kind === 'Event' && field?.startsWith('involvedObject.name=')) {
      const pod = field.split('=')[1];
      items = [
        {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `${pod}.1`, namespace },
          type: 'Warning',
          reason: 'BackOff',
          message: `Back-off pulling image "meshprobe-agent:dev" for ${pod}`,
        } as Obj,
      ];
    }
    return this.send(res, 200, { kind: `${kind}List`, apiVersion: 'v1', metadata: {}, items });
  }

  private select(kind: string, namespace: string | undefined, selector: string | null): Obj[] {
    const want = (selector ?? '')
      .split(',')
      .filter(Boolean)
      .map((s) => s.split('='));
    return this.list(kind, namespace).filter((o) => want.every(([k, v]) => o.metadata.labels?.[k] === v));
  }

  private watch(res: http.ServerResponse, kind: string, namespace: string | undefined, selector: string | null): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    this.watches.add(res);
    const sent = new Map<string, string>();
    const tick = () => {
      for (const o of this.select(kind, namespace, selector)) {
        const text = JSON.stringify(o);
        if (sent.get(o.metadata.name) === text) continue;
        res.write(`${JSON.stringify({ type: sent.has(o.metadata.name) ? 'MODIFIED' : 'ADDED', object: o })}\n`);
        sent.set(o.metadata.name, text);
      }
    };
    tick();
    const timer = setInterval(tick, 20);
    res.on('close', () => {
      clearInterval(timer);
      this.watches.delete(res);
    });
  }

  private schedulePod(d: Obj): void {
    const spec = d.spec as { template: { metadata: { labels: Record<string, string> } } };
    const labels = spec.template.metadata.labels;
    const workload = labels['meshprobe.io/workload'];
    const name = `${d.metadata.name}-5d8f9-x2k4q`;
    const ip = `10.244.0.${10 + this.list('Pod').length}`;
    const pending = {
      phase: 'Pending',
      conditions: [{ type: 'Ready', status: 'False' }],
      containerStatuses: [{ name: 'agent', ready: false, state: { waiting: { reason: 'ContainerCreating' } } }],
    };
    this.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: d.metadata.namespace, labels }, status: pending });
    if (this.options.neverReady?.includes(workload)) {
      const stuck = {
        ...pending,
        containerStatuses: [
          { name: 'agent', ready: false, state: { waiting: { reason: 'ImagePullBackOff', message: 'image "meshprobe-agent:dev" not present' } } },
        ],
      };
      this.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: d.metadata.namespace, labels }, status: stuck });
      return;
    }
    setTimeout(() => {
      if (!this.objects.has(this.key('Pod', d.metadata.namespace, name))) return;
      this.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: d.metadata.namespace, labels },
        status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
      });
    }, this.options.readyAfterMs ?? 30).unref();
  }

  /** The exec / port-forward websockets, speaking the channel protocol. */
  private stream(ws: WebSocket, url: URL): void {
    const m = /namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|portforward)/.exec(url.pathname);
    if (!m) return ws.close();
    const [, namespace, pod, what] = m;
    if (what === 'portforward') return this.portForward(ws);
    const command = url.searchParams.getAll('command');
    let stdin = '';
    let started = false;
    const run = () => {
      if (started) return;
      started = true;
      const exec = { namespace, pod, command, stdin, protocol: ws.protocol, started: performance.now() } as FakeApiServer['execs'][number];
      this.execs.push(exec);
      const answer = () => {
        exec.ended = performance.now();
        this.runCommand(ws, namespace, pod, command, stdin);
      };
      if (this.options.callMs && command.join(' ').includes(' call')) setTimeout(answer, this.options.callMs);
      else answer();
    };
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0) {
        stdin += data.subarray(1).toString();
        if (stdin.includes('\n')) run(); // `head -n 1`: the line is all the agent reads
      } else if (data[0] === 255 && data[1] === 0) run(); // v5 stdin close
    });
    if (url.searchParams.get('stdin') !== 'true') setImmediate(run);
  }

  private frame(ws: WebSocket, channel: number, text: string): void {
    ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(text)]));
  }

  private runCommand(ws: WebSocket, namespace: string, pod: string, command: string[], stdin: string): void {
    const line = command.join(' ');
    const ok = { metadata: {}, status: 'Success' };
    if (this.options.dropExec?.(line)) {
      this.frame(ws, 1, '{"nonce":"partial');
      setTimeout(() => ws.terminate(), 5);
      return;
    }
    if (line.includes(' call')) {
      const batch = JSON.parse(stdin.split('\n')[0]) as ProbeRequest[] | ProbeRequest[][];
      const requests = line.includes('--chains') ? (batch as ProbeRequest[][]).flat() : (batch as ProbeRequest[]);
      for (const r of requests) this.frame(ws, 1, `${JSON.stringify(this.agentCall(namespace, pod, r))}\n`);
      this.frame(ws, 3, JSON.stringify(ok));
    } else if (command.includes('query')) {
      const nonces = command.filter((_, i) => command[i - 1] === '--nonce');
      // what the real agent prints: nonce → observations (src/agent/control.ts queryObservations)
      const seen = Object.fromEntries(
        nonces.map((n) => {
          const o = this.observations.get(n);
          return [n, o && o.pod === `${namespace}/${pod}` ? [o.observation] : []];
        }),
      );
      this.frame(ws, 1, JSON.stringify(seen));
      this.frame(ws, 3, JSON.stringify(ok));
    } else {
      this.frame(ws, 2, `sh: ${command[0]}: not found\n`);
      this.frame(
        ws,
        3,
        JSON.stringify({
          metadata: {},
          status: 'Failure',
          reason: 'NonZeroExitCode',
          message: 'command terminated with non-zero exit code',
          details: { causes: [{ reason: 'ExitCode', message: '127' }] },
        }),
      );
    }
    setTimeout(() => ws.close(), 5);
  }

  /** Plays the agent's `call`: a service host reaches its pod (recorded there); anything else is refused. */
  private agentCall(namespace: string, pod: string, r: ProbeRequest): ProbeResult {
    const m = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(r.host);
    const target = m ? this.list('Pod', m[2]).find((p) => p.metadata.labels?.['meshprobe.io/workload'] === m[1]) : undefined;
    const base = { nonce: r.nonce, request: r, timings: { totalMs: 3 }, bytes: { sent: 10, received: 10 } };
    if (!target) return { ...base, outcome: { kind: 'refused' } };
    const observation: Observation = {
      nonce: r.nonce,
      protocol: r.protocol === 'http' ? 'http' : 'tcp',
      source: { address: '127.0.0.6', port: 40000 },
      local: { address: '10.244.0.9', port: r.port ?? 0 },
      at: new Date(0).toISOString(),
      peer: { identity: `spiffe://cluster.local/ns/${namespace}/sa/${pod.split('-')[0]}`, basis: 'xfcc-from-sidecar' },
    };
    this.observations.set(r.nonce, { pod: `${target.metadata.namespace}/${target.metadata.name}`, observation });
    return { ...base, outcome: { kind: 'ok', status: 200, observation } };
  }

  /** Port-forward: each channel starts with the port; channel 0 carries an HTTP exchange with "istiod". */
  private portForward(ws: WebSocket): void {
    const port = Buffer.from([0, 0, 0]);
    port.writeUInt16LE(15014, 1);
    ws.send(Buffer.concat([Buffer.from([0]), port.subarray(1)]));
    ws.send(Buffer.concat([Buffer.from([1]), port.subarray(1)]));
    let request = '';
    ws.on('message', (data: Buffer) => {
      if (data[0] !== 0) return;
      request += data.subarray(1).toString();
      if (!request.includes('\r\n\r\n')) return;
      const series = this.options.xdsRejects ?? [0];
      const value = series[Math.min(this.metricsReads++, series.length - 1)];
      const text = `# TYPE pilot_total_xds_rejects counter\npilot_total_xds_rejects{type="lds"} ${value}\n`;
      this.frame(
        ws,
        0,
        `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      );
    });
  }
}
