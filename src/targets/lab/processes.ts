/**
 * Processes inside pods. The long-running programs (the agent, the sidecar, the egress gateway) run in the
 * lab runtime (runtime/); what a pod does with its own privileges — a probe `call` as another uid, a
 * flush-capture — runs as a process: `ip netns exec`, which also bind-mounts the pod's /etc/netns files over
 * /etc/hosts and /etc/resolv.conf, then `setpriv` into the container's identity as a container runtime sets it
 * up, dying with the lab (`--pdeathsig KILL`; the lab also kills everything in its namespaces on teardown).
 *
 * The container's identity follows containerd/runc: bounding set = the runtime's defaults plus what the workload
 * adds; no inheritable and no ambient capabilities. A process running as uid 0 then has the bounding set as
 * its permitted and effective sets; any other uid has NO effective capability, whatever is added
 * (kubernetes/kubernetes#56374: with Docker, `--cap-add NET_ADMIN --user 1000` → iptables "Permission denied",
 * `--cap-add SETUID --user 1000` → setpriv "Operation not permitted"). A probe `as` another uid is then what
 * `kubectl exec` + `setpriv --reuid` does: a second setpriv run BY the container's process, which only a
 * container running as uid 0 (with SETUID/SETGID) can do — for any other uid it fails for real.
 */
import { spawn } from 'node:child_process';
import { boundingSet, effectiveCapabilities, RUNTIME_DEFAULT_CAPABILITIES, type ContainerIdentity } from '../../model/capabilities.js';
import { TargetError } from '../target.js';

export type Identity = ContainerIdentity;
export { boundingSet, effectiveCapabilities, RUNTIME_DEFAULT_CAPABILITIES };

const capList = (caps: string[]) => ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');

/** Enters the container's identity from root (see the header: no ambient or inheritable capabilities). */
export function setprivArgs(id: Identity): string[] {
  const bounding = capList(boundingSet(id));
  return [
    'setpriv',
    '--reuid',
    String(id.uid),
    '--regid',
    String(id.uid),
    '--clear-groups',
    '--inh-caps=-all',
    `--bounding-set=${bounding}`,
    '--pdeathsig',
    'KILL',
    '--',
  ];
}

/** What the container's own process runs to become `uid` (as `kubectl exec … setpriv` would); none for its own uid. */
export function switchUserArgs(id: Identity, uid: number | undefined): string[] {
  if (uid === undefined || uid === id.uid) return [];
  return ['setpriv', '--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--'];
}

export function podCommand(netns: string, id: Identity, argv: string[]): string[] {
  return ['netns', 'exec', netns, ...setprivArgs(id), ...argv];
}

/**
 * A conversation with the command: every line of its stdout as it comes, and stdin left open after `input` for
 * `write` (closed when the command ends).
 */
export interface PodIo {
  onLine(line: string): void;
  attach(write: (line: string) => void): void;
}

/** Runs a short-lived command in a pod with stdin; resolves with stdout whatever the exit status, plus the status. */
export function runInPod(
  netns: string,
  id: Identity,
  argv: string[],
  input: string,
  timeoutMs: number,
  io?: PodIo,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', podCommand(netns, id, argv), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!io) return;
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) io.onLine(l);
    });
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
    if (!io) return void child.stdin.end(input);
    child.stdin.write(input);
    io.attach((line) => {
      if (child.exitCode === null && child.stdin.writable) child.stdin.write(`${line}\n`);
    });
    child.once('close', () => child.stdin.destroy());
  });
}
