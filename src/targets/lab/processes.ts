/**
 * What runs inside pods. The long-running programs (the probe agent, the sidecar, the egress gateway) are threads
 * of the lab's process, each moved into its pod's network namespace with the pod's uid and capabilities
 * (thread/identity.ts) and given the pod's hosts file; they end with the lab, or with the process. Short-lived
 * commands (a probe `call` as another uid, a flush-capture) are processes: `ip netns exec`, which also bind-mounts
 * the pod's /etc/netns files over /etc/hosts and /etc/resolv.conf, then `setpriv` with the workload's uid and
 * exactly the capabilities the scenario grants as bounding, inheritable and ambient set, dying with the lab
 * (`--pdeathsig KILL`; the lab also kills everything in its namespaces on teardown).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { TargetError } from '../target.js';

export interface Identity {
  uid: number;
  /** Capability names as in the scenario (NET_ADMIN …), added to the container's. */
  capabilities: string[];
  /** `drop: [ALL]` as Istio's sidecar container has; otherwise the container runtime's default set applies. */
  dropAll?: boolean;
}

/**
 * containerd's (and Docker's) default capability set of a container. A root application has these; a non-root
 * one can regain them only through file capabilities (ping's cap_net_raw), as in a pod.
 */
export const RUNTIME_DEFAULT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];

const capList = (caps: string[]) => ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');

/** The container's bounding set: the runtime's defaults plus what is granted, or nothing with `drop: [ALL]`. */
export function boundingSet(id: Identity): string[] {
  return id.dropAll ? [] : [...new Set([...RUNTIME_DEFAULT_CAPABILITIES, ...id.capabilities])];
}

export function setprivArgs(id: Identity): string[] {
  const bounding = boundingSet(id);
  // Granted capabilities are also ambient, so they are effective for a non-root uid too (see the README).
  const granted = capList(id.dropAll ? [] : id.capabilities);
  return ['setpriv', '--reuid', String(id.uid), '--regid', String(id.uid), '--clear-groups', `--inh-caps=${granted}`, `--ambient-caps=${granted}`, `--bounding-set=${capList(bounding)}`, '--pdeathsig', 'KILL', '--'];
}

export function podCommand(netns: string, id: Identity, argv: string[]): string[] {
  return ['netns', 'exec', netns, ...setprivArgs(id), ...argv];
}

/**
 * How long a pod's agent or sidecar may take to report ready. Start-up is ~50 ms on an idle machine; the margin is
 * for a loaded one (many labs deploying at once on two cores), where a short limit turned slowness into ERRORs.
 */
export const READY_TIMEOUT_MS = 30_000;

/** A pod's long-running program (agent or sidecar) running as a thread of this process (see thread/identity.ts). */
export interface PodThread {
  /** The thread's id in the kernel (/proc/<pid>/task/<tid>). */
  tid: number;
  stop(): Promise<void>;
}

export interface ThreadStart {
  /** The pod-thread entry (dist/lab/meshprobe-pod-thread.mjs, staged in the lab). */
  entry: string;
  program: string;
  args: string[];
  /** The pod's /etc/hosts. */
  hosts: string;
  logFile: string;
  resourceLimits?: ResourceLimits;
  /** Called with the thread as soon as it exists, so a teardown during start-up can stop it. */
  started?: (t: PodThread) => void;
}

/**
 * Starts a pod's program as a thread in the pod's network namespace with the pod's identity, and resolves once it
 * printed `ready`. Its stdout (after `ready`) and stderr go to `logFile`. A few milliseconds and a few MB each,
 * where a process costs ~150 ms of CPU to start: the difference decides how fast scenarios deploy.
 */
export function startThread(name: string, netns: string, id: Identity, start: ThreadStart, timeoutMs = READY_TIMEOUT_MS): Promise<PodThread> {
  const log = createWriteStream(start.logFile, { flags: 'a' });
  log.on('error', () => undefined);
  const worker = new Worker(start.entry, {
    argv: start.args,
    workerData: { netnsPath: `/run/netns/${netns}`, uid: id.uid, capabilities: id.dropAll ? [] : id.capabilities, bounding: boundingSet(id), program: start.program, hosts: start.hosts },
    stdout: true,
    stderr: true,
    ...(start.resourceLimits ? { resourceLimits: start.resourceLimits } : {}),
  });
  let tid = 0;
  let stopped = false;
  const thread: PodThread = {
    get tid() {
      return tid;
    },
    stop: async () => {
      stopped = true;
      await worker.terminate().catch(() => undefined);
      log.end();
    },
  };
  start.started?.(thread);
  worker.stderr.pipe(log, { end: false });
  return new Promise((resolve, reject) => {
    let out = '';
    let settled = false;
    const timer = setTimeout(() => fail(`did not report ready within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void thread.stop().then(() => {
        let tail = '';
        try {
          tail = readFileSync(start.logFile, 'utf8').trim().split('\n').slice(-5).join(' | ');
        } catch {
          /* no log yet */
        }
        reject(new TargetError(`${name} in ${netns} ${why}${tail ? `; its log ends: ${tail}` : ''}`, `see ${start.logFile}`));
      });
    };
    const onData = (d: Buffer) => {
      out += d.toString('utf8');
      if (/^ready$/m.test(out) && tid !== 0) ready();
    };
    const ready = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.stdout.off('data', onData);
      log.write(out.replace(/^ready\n?/m, ''));
      worker.stdout.pipe(log, { end: false });
      resolve(thread);
    };
    worker.on('message', (m: { tid?: number }) => {
      if (typeof m?.tid === 'number') tid = m.tid;
      if (/^ready$/m.test(out)) ready();
    });
    worker.stdout.on('data', onData);
    worker.on('error', (err) => (settled ? log.write(`${name}: ${err.stack ?? err.message}\n`) : fail(`failed: ${err.message}`)));
    worker.on('exit', (code) => {
      if (!settled) fail(`exited (code ${code}) before it was ready: ${out.trim().slice(0, 300)}`);
      else if (!stopped) log.write(`${name} exited (code ${code})\n`);
    });
  });
}

/** Runs a short-lived command in a pod with stdin; resolves with stdout whatever the exit status, plus the status. */
export function runInPod(netns: string, id: Identity, argv: string[], input: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', podCommand(netns, id, argv), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new TargetError(`cannot run a probe client in ${netns}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
