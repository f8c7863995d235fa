/**
 * Processes inside pods. The long-running programs (the probe agent, the sidecar, the egress gateway) run in the
 * lab runtime (runtime/); what a pod does with its own privileges — a probe `call` as another uid, a
 * flush-capture — runs as a process: `ip netns exec`, which also bind-mounts the pod's /etc/netns files over
 * /etc/hosts and /etc/resolv.conf, then `setpriv` with the uid and exactly the capabilities the scenario grants as
 * bounding, inheritable and ambient set, dying with the lab (`--pdeathsig KILL`; the lab also kills everything in
 * its namespaces on teardown).
 */
import { spawn } from 'node:child_process';
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
