/**
 * The lab's side of its runtime threads (worker.ts): starts them on first use, places every pod on one of them
 * (a lab's pods spread over the threads in turn, so one large lab uses every core; a pod's agent and sidecar stay
 * together), asks them to start and stop pods, and stops them. Pods on different threads talk through the kernel
 * as pods on one thread do (their sockets are in their own namespaces), so placement changes no traffic.
 * A runtime thread is part of the lab's process: it ends with it, so nothing of it outlives a crash.
 */
import { availableParallelism } from 'node:os';
import type { SidecarConfig } from '../sidecar/config.js';
import { Worker } from 'node:worker_threads';
import { TargetError } from '../../target.js';
import { appendOwnFile } from '../files.js';
import { LoopTicks } from './capacity.js';
import type { DropRead } from './fate.js';
import type { PodSpec, RuntimeNotice, RuntimeReply, RuntimeRequest } from './protocol.js';

/** How long a pod may take to start (listeners up) on a loaded machine before the deploy is an ERROR. */
export const POD_START_TIMEOUT_MS = 30_000;
/** How long a runtime thread asked to end may take before it is terminated. */
const EXIT_WAIT_MS = 5_000;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
  dead?: string;
}

export class LabRuntime {
  private readonly threads: Thread[] = [];
  /** Where each running pod is (lab → pod key → thread). */
  private readonly placement = new Map<string, Map<string, Thread>>();
  private nextId = 1;
  private nextThread = 0;
  /** Every thread's loop ticks, shared: a probe's self-check looks at the loops its path crosses (capacity.ts). */
  private readonly ticks: LoopTicks;

  /**
   * `entry`: the bundled worker (dist/lab/meshprobe-lab-runtime.mjs); `logFile`: where the runtime's own errors go.
   * `size`: runtime threads (default: one per core, at most 4 — the lab process's main thread mostly waits).
   */
  constructor(
    private readonly entry: string,
    private readonly logFile: string,
    private readonly size = Math.min(4, Math.max(1, availableParallelism())),
  ) {
    this.ticks = LoopTicks.create(size);
  }

  private spawn(slot: number): Thread {
    const worker = new Worker(this.entry, { stdout: false, stderr: false, workerData: { ticks: this.ticks.buffer, slots: this.size, slot } });
    const t: Thread = { worker, pending: new Map() };
    const failAll = (why: string) => {
      t.dead = why;
      for (const p of t.pending.values()) p.reject(new TargetError(`the lab runtime stopped: ${why}`, `see ${this.logFile}`));
      t.pending.clear();
    };
    worker.on('message', (m: RuntimeReply) => {
      if (m.op === 'log') return this.log(m.message);
      const p = t.pending.get(m.id);
      t.pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new TargetError(m.error));
      else p?.resolve();
    });
    worker.on('error', (err) => {
      this.log(`runtime thread failed: ${err.stack ?? err.message}`);
      failAll(err.message);
    });
    worker.on('exit', (code) => {
      this.ticks.setAlive(slot, false);
      failAll(`exited with code ${code}`);
    });
    worker.unref(); // an idle runtime must not keep the process alive
    return t;
  }

  private threadFor(lab: string, pod: string): Thread {
    const pods = this.placement.get(lab) ?? new Map<string, Thread>();
    this.placement.set(lab, pods);
    let t = pods.get(pod);
    if (t && !t.dead) return t;
    const i = this.nextThread++ % this.size;
    if (!this.threads[i] || this.threads[i].dead) this.threads[i] = this.spawn(i);
    t = this.threads[i];
    pods.set(pod, t);
    return t;
  }

  /** Which runtime thread (0, 1, …) runs each pod of `lab`, by pod key. */
  placementOf(lab: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [pod, t] of this.placement.get(lab) ?? []) out.set(pod, this.threads.indexOf(t));
    return out;
  }

  /** The live threads running any pod of `lab`. */
  private threadsOf(lab: string): Thread[] {
    return [...new Set(this.placement.get(lab)?.values() ?? [])].filter((t) => !t.dead);
  }

  private request(t: Thread, body: DistributiveOmit<RuntimeRequest, 'id'>, timeoutMs: number, what: string): Promise<void> {
    if (t.dead) return Promise.reject(new TargetError(`the lab runtime stopped: ${t.dead}`, `see ${this.logFile}`));
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        t.pending.delete(id);
        reject(new TargetError(`${what} did not finish within ${timeoutMs} ms`, `see ${this.logFile}`));
      }, timeoutMs);
      t.pending.set(id, {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      t.worker.ref();
      t.worker.postMessage({ ...body, id } as RuntimeRequest);
    }).finally(() => {
      if (t.pending.size === 0) t.worker.unref();
    });
  }

  /** Starts a pod's programs; resolves once its listeners are up. */
  start(lab: string, pod: PodSpec): Promise<void> {
    return this.request(this.threadFor(lab, pod.key), { op: 'start', pod }, POD_START_TIMEOUT_MS, `starting pod ${pod.key}`);
  }

  /** Gives a running pod's sidecar a new configuration (a step); resolves once it handles new connections with it. */
  reconfigure(lab: string, key: string, sidecar: SidecarConfig): Promise<void> {
    const t = this.placement.get(lab)?.get(key);
    if (!t) return Promise.reject(new TargetError(`pod ${key} of lab ${lab} is not running`));
    return this.request(t, { op: 'reconfigure', pod: key, sidecar }, POD_START_TIMEOUT_MS, `reconfiguring the sidecar of ${key}`);
  }

  /** Hands a counter read of the lab's NetworkPolicy drops to every thread running its pods (fate.ts); no answer. */
  drops(read: DropRead): void {
    for (const t of this.threadsOf(read.lab)) t.worker.postMessage({ op: 'drops', read } satisfies RuntimeNotice);
  }

  /** Stops pods (closing every socket they have open); a lab's last stop forgets its placement. */
  async stop(lab: string, keys: string[], last = true): Promise<void> {
    const pods = this.placement.get(lab);
    const byThread = new Map<Thread, string[]>();
    for (const key of keys) {
      const t = pods?.get(key);
      if (t && !t.dead) byThread.set(t, [...(byThread.get(t) ?? []), key]);
    }
    if (last) {
      for (const t of this.threadsOf(lab)) t.worker.postMessage({ op: 'forget', lab } satisfies RuntimeNotice);
      this.placement.delete(lab);
    } else for (const key of keys) pods?.delete(key);
    await Promise.all(
      [...byThread].map(([t, ks]) => this.request(t, { op: 'stop', pods: ks }, POD_START_TIMEOUT_MS, `stopping the pods of lab ${lab}`)),
    );
  }

  /**
   * Blocks every thread that runs `lab`'s pods (or only the one running pod `pod`) for `ms`, `afterMs` from now, as a
   * stall would (see protocol.ts).
   */
  async hold(lab: string, ms: number, afterMs = 0, pod?: string): Promise<void> {
    const one = pod === undefined ? undefined : this.placement.get(lab)?.get(pod);
    const threads = pod === undefined ? this.threadsOf(lab) : one && !one.dead ? [one] : [];
    if (threads.length === 0) throw new TargetError(`lab ${lab} has no ${pod === undefined ? 'pods' : `pod ${pod}`} in the runtime`);
    await Promise.all(
      threads.map((t) => this.request(t, { op: 'hold', ms, afterMs }, afterMs + ms + POD_START_TIMEOUT_MS, `holding the runtime of lab ${lab}`)),
    );
  }

  /**
   * Ends every runtime thread: each is asked to end itself between two events (its pods are stopped by then), which
   * is what it can always do; terminate() instead stops it wherever it is, and a thread stopped in the middle of
   * making a socket was seen never to finish its cleanup (one of about 15 test runs, spinning on a core). A thread
   * that has not ended within EXIT_WAIT_MS is terminated, and that is logged; the wait for it is bounded too.
   */
  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    this.placement.clear();
    await Promise.all(threads.map((t) => this.end(t)));
  }

  private async end(t: Thread): Promise<void> {
    if (t.dead) return;
    const exited = new Promise<void>((resolve) => t.worker.once('exit', () => resolve()));
    t.worker.postMessage({ op: 'exit' } satisfies RuntimeNotice);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), EXIT_WAIT_MS);
    });
    const how = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (how !== 'late') return;
    this.log(`a runtime thread did not end within ${EXIT_WAIT_MS} ms of being asked; terminating it`);
    const terminated = t.worker.terminate().then(
      () => true,
      () => true,
    );
    const ended = await Promise.race([terminated, new Promise<false>((resolve) => setTimeout(() => resolve(false), EXIT_WAIT_MS).unref())]);
    // It holds no pod by now (each was stopped first); it ends with the process.
    if (!ended) this.log(`a runtime thread did not end within ${EXIT_WAIT_MS} ms of terminate(); left to end with the process`);
  }

  private log(message: string): void {
    // The lab created the file (root's, 0600); when its directory is gone there is nothing to keep the line in.
    appendOwnFile(this.logFile, `${new Date().toISOString()} ${message}\n`);
  }
}
