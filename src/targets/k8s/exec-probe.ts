/**
 * Probes on a cluster: the engine's attempts become ProbeRequests for the agent's `call` role, run by exec in the
 * source pod; what arrived is read by exec `query` in the destination pod. The pure parts (requests, commands,
 * output parsing) are here; the exec itself is Kube.exec.
 */
import type { Observation, ProbeRequest, ProbeResult } from '../../agent/types.js';
import { withToken } from '../../model/jwt-issuer.js';
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
    // http.jwt becomes a token minted now by the run's issuer, whose JWKS the render put into the policies.
    ...(p.http ? { http: withToken(p.http) } : {}),
    ...(attempt.timeoutMs ? { timeoutMs: { ...attempt.timeoutMs } } : {}),
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

/** Exit codes of the flush-capture wrapper, distinct from the agent's own (0, 1 usage, 2 error). */
export const FLUSH_FAILED = 97;
export const RESTORE_FAILED = 98;

/**
 * `flush-capture` as a hostile app with NET_ADMIN would do it, then undone: the pod's nat table is saved for each
 * iptables backend that can read it (istio-init writes to the one the node uses), flushed, the probes run, and the
 * saved table restored, so the pod's later probes are captured again. Any step failing ends the exec non-zero
 * with the reason on stderr, which makes the batch an ERROR: a flush that did not happen never passes as a bypass
 * that was blocked. The caller holds the pod exclusively meanwhile (ClusterRun's per-pod lock).
 */
function flushWrapped(call: string): string {
  return [
    'd=$(mktemp -d) || exit ' + FLUSH_FAILED,
    'saved=""',
    'for v in nft legacy; do if iptables-$v-save -t nat >"$d/$v" 2>"$d/$v.err"; then saved="$saved $v"; fi; done',
    `if [ -z "$saved" ]; then echo "flush-capture: cannot read the pod's nat table: $(cat "$d/nft.err" "$d/legacy.err" 2>/dev/null)" >&2; rm -rf "$d"; exit ${FLUSH_FAILED}; fi`,
    `for v in $saved; do if ! iptables-$v -t nat -F; then echo "flush-capture: iptables-$v -t nat -F failed" >&2; for w in $saved; do iptables-$w-restore <"$d/$w"; done; rm -rf "$d"; exit ${FLUSH_FAILED}; fi; done`,
    `${call}; rc=$?`,
    `for v in $saved; do if ! iptables-$v-restore <"$d/$v"; then echo "flush-capture: restoring the pod's nat table with iptables-$v-restore failed: capture may be off in this pod" >&2; rc=${RESTORE_FAILED}; fi; done`,
    'rm -rf "$d"',
    'exit $rc',
  ].join('\n');
}

/**
 * The command for one exec of `call --chains` (stdin: one line, the group's attempts as chains, one per probe; see
 * attempt-chains.ts). `head -n 1` ends the agent's stdin after the batch line, because with
 * channel protocol v4 the client cannot half-close stdin. `as.user` drops to the uid with setpriv; the container
 * runs as uid 0 with the capabilities this needs (manifests.ts securityContextOf). A probe `as` the uid the
 * process already has (`processUid`, agent-process.ts) needs no setpriv, so none is run. Probe values reaching the text
 * are schema-checked integers.
 */
export function callCommand(probe: Pick<Probe, 'as' | 'bypass'>, processUid?: number): string[] {
  const user = probe.as?.user;
  if (user !== undefined && !(Number.isInteger(user) && user >= 0 && user <= 65535)) throw new TargetError(`as.user ${String(user)} is not a uid`);
  const drop = user !== undefined && user !== processUid ? `setpriv --reuid=${user} --regid=${user} --clear-groups ` : '';
  const call = `head -n 1 | ${drop}node ${AGENT_PATH} call --chains --stagger ${ATTEMPT_STAGGER_MS}`;
  return ['sh', '-c', probe.bypass === 'flush-capture' ? flushWrapped(call) : call];
}

export function queryCommand(nonces: string[], control = CONTROL_SOCKET): string[] {
  return ['node', AGENT_PATH, 'query', '--control', control, ...nonces.flatMap((n) => ['--nonce', n])];
}

/** Prints the addresses a name resolves to from inside a pod, as a JSON array ([] when it does not resolve). */
export function resolveCommand(name: string): string[] {
  const script = `require('dns').promises.lookup(process.argv[1], { all: true }).then((a) => console.log(JSON.stringify(a.map((x) => x.address))), (e) => { if (e.code === 'ENOTFOUND' || e.code === 'EAI_NONAME') console.log('[]'); else { console.error(e.code || e.message); process.exit(3); } })`;
  return ['node', '-e', script, name];
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
      `agent in ${where} ${code !== 0 ? `ended with ${statusText(r)}` : 'succeeded'}` +
        `${missing.length ? ` without results for ${missing.length} of ${requests.length} probes` : ''}${stderr ? `:\n${stderr}` : ''}`,
      'is the probe image the one built from this version of meshprobe? (`meshprobe up` rebuilds and loads it)',
    );
  }
  return results;
}

/**
 * `query` prints one JSON object, nonce → the observations recorded for it (control.ts queryObservations). A JSON
 * array of observations is accepted too; anything else is an error, never "nothing arrived".
 */
export function parseQueryOutput(where: string, r: ExecResult): Observation[] {
  if (exitCodeOf(r.status) !== 0) {
    throw new TargetError(`reading observations in ${where} failed (${statusText(r)}): ${r.stderr.trim().slice(-300)}`);
  }
  const text = r.stdout.trim();
  if (text === '') return [];
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    throw new TargetError(`reading observations in ${where}: the agent's answer is not JSON: ${text.slice(0, 200)}`);
  }
  const list = Array.isArray(whole)
    ? whole
    : whole && typeof whole === 'object' && Object.values(whole).every(Array.isArray)
      ? Object.values(whole).flat()
      : undefined;
  if (!list?.every((o) => o && typeof o === 'object' && typeof (o as Observation).nonce === 'string')) {
    throw new TargetError(
      `reading observations in ${where}: unexpected answer ${text.slice(0, 200)}`,
      'is the probe image the one built from this version of meshprobe?',
    );
  }
  return list as Observation[];
}
