/**
 * Probes on a cluster: the engine's attempts become ProbeRequests for the agent's `call` role, run by exec in the
 * source pod; what arrived is read by exec `query` in the destination pod. The pure parts (requests, commands,
 * output parsing) are here; the exec itself is Kube.exec.
 */
import type { Observation, ProbeRequest, ProbeResult } from '../../probe/types.js';
import type { Probe, Scenario } from '../../scenario/schema.js';
import { ATTEMPT_STAGGER_MS } from '../attempt-chains.js';
import { TargetError, type ProbeAttempt } from '../target.js';
import { exitCodeOf, type ExecResult } from './kube.js';
import { AGENT_PATH, CONTROL_SOCKET, serviceHost } from './manifests.js';
import type { NamespaceMap } from './names.js';

export function isExternal(scenario: Scenario, to: string): boolean {
  return scenario.spec.externals.some((e) => e.name === to);
}

export function probeRequest(scenario: Scenario, map: NamespaceMap, attempt: ProbeAttempt): ProbeRequest {
  const p = attempt.probe;
  const host = isExternal(scenario, p.to) ? p.to : serviceHost(map, p.to);
  return {
    nonce: attempt.nonce,
    protocol: p.protocol,
    host,
    ...(p.port !== undefined ? { port: p.port } : {}),
    ...(p.http ? { http: { ...p.http } } : {}),
  };
}

/** Attempts that need the same process setup (uid, capture flushed) share one exec. */
export function groupAttempts(batch: ProbeAttempt[]): ProbeAttempt[][] {
  const groups = new Map<string, ProbeAttempt[]>();
  for (const a of batch) {
    const key = `${a.probe.as?.user ?? ''}|${a.probe.bypass ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), a]);
  }
  return [...groups.values()];
}

/**
 * The command for one exec of `call --chains` (stdin: one line, the group's attempts as chains, one per probe; see
 * attempt-chains.ts). `head -n 1` ends the agent's stdin after the batch line, because with
 * channel protocol v4 the client cannot half-close stdin. `as.user` drops to the uid with setpriv (the container
 * gets SETUID/SETGID for it); `flush-capture` deletes the pod's nat rules first, as a hostile app with NET_ADMIN would.
 */
export function callCommand(probe: Pick<Probe, 'as' | 'bypass'>): string[] {
  const steps: string[] = [];
  if (probe.bypass === 'flush-capture') {
    steps.push('{ iptables-nft -t nat -F 2>/dev/null; iptables-legacy -t nat -F 2>/dev/null; iptables -t nat -F; } >&2 || true');
  }
  const drop = probe.as ? `setpriv --reuid=${probe.as.user} --regid=${probe.as.user} --clear-groups ` : '';
  steps.push(`head -n 1 | ${drop}node ${AGENT_PATH} call --chains --stagger ${ATTEMPT_STAGGER_MS}`);
  return ['sh', '-c', steps.join('; ')];
}

export function queryCommand(nonces: string[]): string[] {
  return ['node', AGENT_PATH, 'query', '--control', CONTROL_SOCKET, ...nonces.flatMap((n) => ['--nonce', n])];
}

function statusText(r: ExecResult): string {
  const code = exitCodeOf(r.status);
  return code === undefined ? `${r.status.reason ?? 'Failure'}: ${r.status.message ?? ''}` : `exit code ${code}`;
}

/**
 * Results of one `call` exec. Both must hold: the status channel says the command succeeded AND every nonce has a
 * structured result. Anything else is an infrastructure ERROR with the agent's stderr, never a probe outcome.
 */
export function parseCallOutput(where: string, requests: ProbeRequest[], r: ExecResult): Map<string, ProbeResult> {
  const results = new Map<string, ProbeResult>();
  for (const line of r.stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as ProbeResult;
      if (typeof parsed.nonce === 'string' && parsed.outcome && typeof parsed.outcome.kind === 'string') results.set(parsed.nonce, parsed);
    } catch {
      // a partial line: the missing nonce is reported below
    }
  }
  const missing = requests.filter((q) => !results.has(q.nonce)).map((q) => q.nonce);
  const code = exitCodeOf(r.status);
  if (code !== 0 || missing.length) {
    const stderr = r.stderr.trim().split('\n').slice(-5).join('\n');
    throw new TargetError(
      `probe agent in ${where} ${code !== 0 ? `ended with ${statusText(r)}` : 'succeeded'}` +
        `${missing.length ? ` without results for ${missing.length} of ${requests.length} probes` : ''}${stderr ? `:\n${stderr}` : ''}`,
      'is the probe image the one built from this version of meshprobe? (`meshprobe up` rebuilds and loads it)',
    );
  }
  return results;
}

/** `query` prints observations as a JSON array or as JSON lines; both are accepted. */
export function parseQueryOutput(where: string, r: ExecResult): Observation[] {
  if (exitCodeOf(r.status) !== 0) {
    throw new TargetError(`reading observations in ${where} failed (${statusText(r)}): ${r.stderr.trim().slice(-300)}`);
  }
  const text = r.stdout.trim();
  if (text === '') return [];
  try {
    const whole = JSON.parse(text) as unknown;
    if (Array.isArray(whole)) return whole as Observation[];
    if (whole && typeof whole === 'object' && Array.isArray((whole as { observations?: unknown }).observations)) {
      return (whole as { observations: Observation[] }).observations;
    }
    return [whole as Observation];
  } catch {
    return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Observation);
  }
}
