/**
 * The only way meshprobe talks to a Kubernetes API: a thin wrapper over @kubernetes/client-node built from a
 * KubeConfig the caller passes in (tests pass one pointing at a fake API server). Every failure becomes a
 * TargetError that says which call on which object failed and what to check.
 */
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import axios from 'axios';
import {
  AdmissionregistrationV1Api,
  ApiException,
  AppsV1Api,
  CoreV1Api,
  Exec,
  type KubeConfig,
  HttpMethod,
  KubernetesObjectApi,
  PatchStrategy,
  PortForward,
  Watch,
  type V1Deployment,
  type V1Pod,
  type V1Status,
} from '@kubernetes/client-node';
import { TargetError } from '../target.js';
import type { Manifest } from './manifests.js';

export const FIELD_MANAGER = 'meshprobe';

export interface ExecResult {
  stdout: string;
  stderr: string;
  status: V1Status;
}

/** The exec stream ended without the status channel reporting how the command ended. */
export class ExecStreamError extends TargetError {
  constructor(where: string, stdout: string) {
    super(
      `exec in ${where}: the stream closed before the command's status arrived (${stdout.length} bytes of output received); the result is unknown`,
      'check the pod is still running and the API server / kubelet are reachable',
    );
    this.name = 'ExecStreamError';
  }
}

function describeApiError(err: unknown, action: string): TargetError {
  if (err instanceof TargetError) return err;
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? safeJson(err.body) : err.body;
    const message = (body as { message?: string } | undefined)?.message ?? String(err.body).slice(0, 300);
    const hint =
      err.code === 403
        ? 'the context lacks permission: check its RBAC (kubectl auth can-i) or use a context that may manage namespaces'
        : err.code === 404
          ? 'the object or its kind does not exist: is Istio installed (its CRDs) and is this the right context?'
          : undefined;
    return new TargetError(`${action}: API answered ${err.code}: ${message}`, hint);
  }
  return new TargetError(
    `${action}: ${err instanceof Error ? err.message : String(err)}`,
    'check the cluster is reachable with this kubeconfig context',
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

/** Rejects as soon as the signal aborts (the underlying call is left to finish in the background). */
export async function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) throw new TargetError('interrupted');
  let fail: (() => void) | undefined;
  const interrupted = new Promise<never>((_, reject) => {
    fail = () => reject(new TargetError('interrupted'));
    signal.addEventListener('abort', fail, { once: true });
  });
  try {
    return await Promise.race([p, interrupted]);
  } finally {
    // A finished call lets go of the signal: a long run makes thousands of calls on one signal.
    if (fail) signal.removeEventListener('abort', fail);
  }
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * KubernetesObjectApi whose apply sends the manifest as written. client-node's own patch() passes the body
 * through its typed serializer, which drops fields its models spell differently (a CRD's
 * x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields, enum, default, x-kubernetes-validations:
 * kubernetes-client/javascript#2483), so the API server would get another object than the user's.
 */
export class RawApplyApi extends KubernetesObjectApi {
  static fromConfig(kc: KubeConfig): RawApplyApi {
    const client = kc.makeApiClient(RawApplyApi);
    client.setDefaultNamespace(kc);
    return client;
  }

  async applyRaw(m: Manifest, fieldManager: string): Promise<unknown> {
    const ctx = this.configuration.baseServer.makeRequestContext(await this.specUriPath(m, 'patch'), HttpMethod.PATCH);
    ctx.setHeaderParam('Accept', 'application/json, */*;q=0.8');
    // JSON is YAML: the apply content type takes it as it is.
    ctx.setHeaderParam('Content-Type', PatchStrategy.ServerSideApply);
    ctx.setQueryParam('fieldManager', fieldManager);
    ctx.setQueryParam('force', 'true');
    ctx.setBody(JSON.stringify(m));
    return this.requestPromise(ctx);
  }
}

export class Kube {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly admission: AdmissionregistrationV1Api;
  private readonly objects: RawApplyApi;

  constructor(readonly kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
    this.objects = RawApplyApi.fromConfig(kc);
  }

  /** Server-side apply with our field manager, forcing ownership of fields (the run owns its objects). */
  async apply(m: Manifest, signal?: AbortSignal): Promise<void> {
    const what = `apply ${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
    try {
      await abortable(this.objects.applyRaw(m, FIELD_MANAGER), signal);
    } catch (err) {
      throw describeApiError(err, what);
    }
  }

  async deleteObject(m: Manifest): Promise<void> {
    try {
      await this.objects.delete(m);
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return;
      throw describeApiError(err, `delete ${m.kind} ${m.metadata.namespace}/${m.metadata.name}`);
    }
  }

  async deleteNamespace(name: string): Promise<void> {
    try {
      await this.core.deleteNamespace({ name, propagationPolicy: 'Background' });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return;
      throw describeApiError(err, `delete namespace ${name}`);
    }
  }

  async listNamespaces(labelSelector: string): Promise<string[]> {
    try {
      const list = await this.core.listNamespace({ labelSelector });
      return list.items.map((n) => n.metadata?.name ?? '').filter(Boolean);
    } catch (err) {
      throw describeApiError(err, `list namespaces (${labelSelector})`);
    }
  }

  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    try {
      return (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
    } catch (err) {
      throw describeApiError(err, `list pods in ${namespace} (${labelSelector})`);
    }
  }

  async listDeployments(namespace: string, labelSelector: string): Promise<V1Deployment[]> {
    try {
      return (await this.apps.listNamespacedDeployment({ namespace, labelSelector })).items;
    } catch (err) {
      throw describeApiError(err, `list deployments in ${namespace} (${labelSelector})`);
    }
  }

  /** The labels of the MutatingWebhookConfigurations matching a selector (Istio's revision tags live there). */
  async listMutatingWebhookLabels(labelSelector: string): Promise<Array<Record<string, string>>> {
    try {
      return (await this.admission.listMutatingWebhookConfiguration({ labelSelector })).items.map((w) => w.metadata?.labels ?? {});
    } catch (err) {
      throw describeApiError(err, `list mutatingwebhookconfigurations (${labelSelector})`);
    }
  }

  async readDeploymentImages(namespace: string, name: string): Promise<string[]> {
    try {
      const d = await this.apps.readNamespacedDeployment({ namespace, name });
      return (d.spec?.template.spec?.containers ?? []).map((c) => c.image ?? '');
    } catch (err) {
      throw describeApiError(err, `read deployment ${namespace}/${name}`);
    }
  }

  /** The pod's events, oldest first, as "Reason: message" lines (what `kubectl describe` shows). */
  async podEvents(namespace: string, pod: string): Promise<string[]> {
    try {
      const list = await this.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${pod}` });
      return list.items.map((e) => `${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`.trim());
    } catch (err) {
      throw describeApiError(err, `list events of pod ${namespace}/${pod}`);
    }
  }

  async podLogs(namespace: string, pod: string, container: string, tailLines = 100): Promise<string> {
    try {
      return await this.core.readNamespacedPodLog({ namespace, name: pod, container, tailLines });
    } catch (err) {
      throw describeApiError(err, `read logs of ${namespace}/${pod} container ${container}`);
    }
  }

  /**
   * Waits, by watch, until a pod matching the selector is Ready. On timeout the error carries the pod's phase,
   * container states and events, so the user sees why (image pull, crash loop, injection).
   */
  async waitPodReady(namespace: string, labelSelector: string, timeoutMs: number, signal?: AbortSignal): Promise<V1Pod> {
    let latest: V1Pod | undefined;
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => controller?.abort();
    try {
      const ready = new Promise<V1Pod>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
        new Watch(this.kc)
          .watch(
            `/api/v1/namespaces/${namespace}/pods`,
            { labelSelector },
            (type, pod: V1Pod) => {
              if (type === 'DELETED') return;
              latest = pod;
              if (podReady(pod)) resolve(pod);
            },
            (err: unknown) => {
              if (err) reject(err);
              else reject(new Error('watch closed by the server'));
            },
          )
          .then((c) => {
            controller = c;
            if (signal?.aborted) c.abort();
          }, reject);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      return await abortable(ready, signal);
    } catch (err) {
      if (err instanceof TargetError) throw err;
      if (signal?.aborted) throw new TargetError(`waiting for pods in ${namespace}: interrupted`);
      if (err instanceof Error && err.message === 'timeout') throw await this.notReadyError(namespace, labelSelector, timeoutMs, latest);
      const code = (err as { statusCode?: number }).statusCode;
      throw new TargetError(
        `watch pods in ${namespace} (${labelSelector}) failed${code ? ` with ${code}` : ''}: ${err instanceof Error ? err.message : String(err)}`,
        code === 403 ? 'the context lacks permission to watch pods in this namespace' : undefined,
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      controller?.abort();
    }
  }

  private async notReadyError(namespace: string, selector: string, timeoutMs: number, pod?: V1Pod): Promise<TargetError> {
    if (!pod?.metadata?.name)
      return new TargetError(
        `no pod matching ${selector} appeared in ${namespace} within ${timeoutMs / 1000}s`,
        'check the Deployment and its ReplicaSet events',
      );
    const name = pod.metadata.name;
    const states = (pod.status?.containerStatuses ?? []).map((c) => {
      const w = c.state?.waiting;
      return `${c.name}: ${w ? `waiting (${w.reason ?? ''}${w.message ? `: ${w.message}` : ''})` : c.state?.terminated ? `terminated (${c.state.terminated.reason ?? ''})` : 'running'}${c.ready ? ', ready' : ''}`;
    });
    const events = await this.podEvents(namespace, name).catch((e: Error) => [`(events unavailable: ${e.message})`]);
    return new TargetError(
      `pod ${namespace}/${name} not ready after ${timeoutMs / 1000}s (phase ${pod.status?.phase ?? 'unknown'})\n` +
        [...states.map((s) => `  container ${s}`), ...events.map((e) => `  event ${e}`)].join('\n'),
      'see the events above; `meshprobe run --keep` leaves the namespace for inspection',
    );
  }

  /**
   * Runs a command in a container. The outcome comes from the status channel (channel 3): a stream that closes
   * without it is an ExecStreamError, never a result. stdin is half-closed only where the protocol can say so
   * (v5.channel.k8s.io); with v4 closing stdin would close the whole connection, so the command must stop
   * reading on its own (one line).
   */
  async exec(namespace: string, pod: string, container: string, command: string[], input?: string, signal?: AbortSignal): Promise<ExecResult> {
    const where = `${namespace}/${pod} container ${container}`;
    const out = collector();
    const err = collector();
    const stdin = input === undefined ? null : new PassThrough();
    let status: V1Status | undefined;
    let ws: Awaited<ReturnType<Exec['exec']>>;
    try {
      ws = await abortable(
        new Exec(this.kc).exec(namespace, pod, container, command, out.stream, err.stream, stdin, false, (s) => (status = s)),
        signal,
      );
    } catch (e) {
      throw describeApiError(e, `exec in ${where}`);
    }
    const closed = new Promise<void>((resolve) => ws.addEventListener('close', () => resolve()));
    if (stdin && input !== undefined) {
      stdin.write(input);
      if (ws.protocol === 'v5.channel.k8s.io') stdin.end();
    }
    const onAbort = () => ws.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await closed;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) throw new TargetError(`exec in ${where}: interrupted`);
    if (!status) throw new ExecStreamError(where, out.text());
    return { stdout: out.text(), stderr: err.text(), status };
  }

  /** HTTP GET through a port-forward to a pod (e.g. istiod's :15014/metrics), without kubectl. */
  async portForwardGet(namespace: string, pod: string, port: number, path: string, timeoutMs = 10_000): Promise<string> {
    const forward = new PortForward(this.kc);
    const failures: string[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      const errors = collector();
      forward.portForward(namespace, pod, [port], socket, errors.stream, socket).then(
        (ws) => socket.on('close', () => (ws as { close(): void }).close()),
        (e: unknown) => {
          failures.push(e instanceof Error ? e.message : String(e));
          socket.destroy();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const local = (server.address() as net.AddressInfo).port;
    try {
      const res = await axios.get<string>(`http://127.0.0.1:${local}${path}`, { timeout: timeoutMs, responseType: 'text', proxy: false });
      return res.data;
    } catch (e) {
      const why = failures[0] ?? (e instanceof Error ? e.message : String(e));
      throw new TargetError(`GET ${path} on ${namespace}/${pod}:${port} through a port-forward failed: ${why}`);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  }
}

/** The exit code the status channel reports (0 for Success), or undefined when the command did not run. */
export function exitCodeOf(status: V1Status): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason !== 'NonZeroExitCode') return undefined;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  return cause?.message !== undefined ? Number(cause.message) : undefined;
}
