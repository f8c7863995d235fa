/**
 * Running a batch of probe attempts from one source pod, then one control-socket query per destination for the
 * nonces. Probes sent as the workload itself go through the pod's running agent (its control socket `call`):
 * the agent already runs in the pod's namespace as the workload's uid with its capabilities, so no process is
 * started per batch. Probes `as` another uid start one agent `call` in the container's identity, which switches
 * to that uid with setpriv (only a container running as uid 0 can). A `bypass: flush-capture` call first flushes
 * the pod's nat table in the container's identity (it fails for real without NET_ADMIN in effect, i.e. unless
 * the workload runs as uid 0 and adds NET_ADMIN; a failed flush is an ERROR, as on a cluster); the lab restores the
 * capture rules right after that call, so later probes see the pod as deployed, and no other probe of the
 * deployment runs while the rules are gone (gate.ts).
 */
import { callChainsViaControl, queryObservations } from '../../agent/control.js';
import { withToken } from '../../model/jwt-issuer.js';
import type { Observation, ProbeRequest, ProbeResult } from '../../agent/types.js';
import { ATTEMPT_STAGGER_MS, attemptChains } from '../attempt-chains.js';
import { TargetError, type AttemptResult, type ProbeAttempt } from '../target.js';
import type { LabDeployment, PodRuntime } from './deploy.js';
import { fateConversation, withDropWatch } from './drops.js';
import { timed } from './timing.js';
import { Gate } from './gate.js';
import { serviceName } from './plan.js';
import { runInPod, switchUserArgs } from './processes.js';
import { applyNat } from './topology.js';

export const CONNECT_TIMEOUT_MS = 2_000;
export const TOTAL_TIMEOUT_MS = 5_000;
const CONCURRENCY = 16;
/** Attempts in flight through a pod's agent at once (each a connection through two sidecars). */
const AGENT_CONCURRENCY = 16;
const gates = new WeakMap<LabDeployment, Gate>();

function gateOf(d: LabDeployment): Gate {
  let g = gates.get(d);
  if (!g) {
    g = new Gate();
    gates.set(d, g);
  }
  return g;
}

function request(d: LabDeployment, a: ProbeAttempt): ProbeRequest {
  const dest = d.pods.get(a.probe.to);
  if (!dest) throw new TargetError(`probe ${a.probe.name}: destination ${a.probe.to} is not in the lab`);
  const host = dest.host.workload ? serviceName(dest.host.workload) : dest.host.key;
  const timeoutMs = { connect: a.timeoutMs?.connect ?? CONNECT_TIMEOUT_MS, total: a.timeoutMs?.total ?? TOTAL_TIMEOUT_MS };
  const r: ProbeRequest = { nonce: a.nonce, protocol: a.probe.protocol, host, timeoutMs };
  if (a.probe.port !== undefined) r.port = a.probe.port;
  // http.jwt becomes a token minted now, in the header or parameter the probe names (model/jwt-issuer.ts).
  if (a.probe.http) r.http = withToken(a.probe.http);
  if (a.probe.protocol === 'https') r.tls = { caFile: d.caFile, servername: host };
  return r;
}

function parseResults(stdout: string): Map<string, ProbeResult> {
  const out = new Map<string, ProbeResult>();
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as ProbeResult;
      if (typeof r.nonce === 'string') out.set(r.nonce, r);
    } catch {
      /* not a result line */
    }
  }
  return out;
}

/** How long a call of chains may take: a full timeout per concurrency-sized share, plus one per link of the longest chain. */
function chainsTimeoutMs(chains: ProbeRequest[][], concurrency: number): number {
  const attempts = chains.reduce((n, c) => n + c.length, 0);
  const longest = Math.max(TOTAL_TIMEOUT_MS, ...chains.flat().map((r) => r.timeoutMs?.total ?? 0));
  return longest * (Math.ceil(attempts / concurrency) + Math.max(0, ...chains.map((c) => c.length))) + 10_000;
}

async function callGroup(
  d: LabDeployment,
  src: PodRuntime,
  uid: number,
  flush: boolean,
  attempts: ProbeAttempt[],
): Promise<Map<string, ProbeResult>> {
  const list = attemptChains(attempts).map((c) => c.map((a) => request(d, a)));
  if (!flush && uid === src.host.uid) return callThroughAgent(src, list);
  if (!d.programs) throw new TargetError(`the lab ${d.labId} has no staged agent (deploy did not finish)`);
  const container = { uid: src.host.uid, capabilities: src.host.capabilities };
  // The container's process switches to the probe's uid itself (fails for real unless it runs as uid 0).
  const argv = [
    ...switchUserArgs(container, uid),
    process.execPath,
    d.programs.agent,
    'call',
    '--chains',
    '--stagger',
    String(ATTEMPT_STAGGER_MS),
    '--concurrency',
    String(CONCURRENCY),
  ];
  // Early verdicts for this program's attempts too (drops.ts): it reports what it sent, the lab answers fates.
  const talk = fateConversation(d);
  if (talk) argv.push('--fates');
  try {
    if (flush) {
      // The flush is its own process in the container's identity; one that fails (no effective NET_ADMIN) is an
      // ERROR naming why, never a probe that silently went out captured.
      const f = await runInPod(src.host.netns, container, ['iptables', '-t', 'nat', '-F'], '', TOTAL_TIMEOUT_MS);
      if (f.code !== 0)
        throw new TargetError(`flush-capture (iptables -t nat -F) in ${src.host.key} failed (exit ${f.code}): ${f.stderr.trim().slice(0, 500)}`);
    }
    const res = await runInPod(
      src.host.netns,
      container,
      argv,
      talk ? `${JSON.stringify(list)}\n` : JSON.stringify(list),
      chainsTimeoutMs(list, CONCURRENCY),
      talk?.io,
    ).finally(() => talk?.done());
    const results = parseResults(res.stdout);
    if (results.size === 0) {
      const what = uid !== src.host.uid ? `the probe client as uid ${uid} (started by the container's uid ${src.host.uid})` : 'the probe client';
      throw new TargetError(`${what} in ${src.host.key} failed (exit ${res.code}): ${res.stderr.trim().slice(0, 500)}`);
    }
    return results;
  } finally {
    if (flush && src.captureRestore) await applyNat(src.host.netns, src.captureRestore);
  }
}

/** One control query for the whole batch: the agent runs each probe's chain of attempts (one query costs ~1 ms). */
async function callThroughAgent(src: PodRuntime, chains: ProbeRequest[][]): Promise<Map<string, ProbeResult>> {
  const timeoutMs = chainsTimeoutMs(chains, AGENT_CONCURRENCY);
  try {
    const results = await callChainsViaControl(src.control, chains, { concurrency: AGENT_CONCURRENCY, staggerMs: ATTEMPT_STAGGER_MS, timeoutMs });
    return new Map(results.map((r) => [r.nonce, r]));
  } catch (err) {
    throw new TargetError(`the agent of ${src.host.key} could not run the probes: ${(err as Error).message}`);
  }
}

async function arrivals(d: LabDeployment, attempts: ProbeAttempt[]): Promise<Map<string, Observation[] | undefined>> {
  const byDest = new Map<string, string[]>();
  for (const a of attempts) byDest.set(a.probe.to, [...(byDest.get(a.probe.to) ?? []), a.nonce]);
  const out = new Map<string, Observation[] | undefined>();
  await Promise.all(
    [...byDest].map(async ([to, nonces]) => {
      const dest = d.pods.get(to);
      const got = dest ? await queryObservations(dest.control, nonces).catch(() => undefined) : undefined;
      for (const n of nonces) out.set(n, got?.[n]);
    }),
  );
  return out;
}

/**
 * The batch's attempts in the order the pod sends them: by destination, starting at the destination after the
 * source in the lab's host list. The engine lists every source's probes in the same destination order, so without
 * this every pod of a large matrix calls the same destination at the same moment (at 90 workloads 16 sources'
 * mTLS requests to one sidecar got no answer within 5 s while the others were idle); rotated, each destination
 * is called by few sources at a time. Stable: a probe's attempts and the engine's order among one destination's
 * probes are kept. Results are matched by nonce, so the order changes nothing else.
 */
export function spreadOrder(hosts: readonly { key: string }[], from: string, batch: readonly ProbeAttempt[]): ProbeAttempt[] {
  const index = new Map(hosts.map((h, i) => [h.key, i]));
  const n = hosts.length;
  const start = index.get(from) ?? 0;
  const rank = (a: ProbeAttempt) => ((index.get(a.probe.to) ?? 0) - start - 1 + 2 * n) % n;
  return batch
    .map((a, i) => ({ a, i, r: rank(a) }))
    .sort((x, y) => x.r - y.r || x.i - y.i)
    .map((x) => x.a);
}

async function runBatch(d: LabDeployment, src: PodRuntime, batch: ProbeAttempt[]): Promise<AttemptResult[]> {
  const groups = new Map<string, ProbeAttempt[]>();
  for (const a of spreadOrder(d.plan.hosts, src.host.key, batch)) {
    const key = `${a.probe.as?.user ?? src.host.uid}/${a.probe.bypass ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), a]);
  }
  const results = new Map<string, ProbeResult>();
  // Flush groups run last and alone: while the pod's rules are flushed no other probe of this pod may run.
  const ordered = [...groups].sort(([a], [b]) => Number(a.endsWith('/flush-capture')) - Number(b.endsWith('/flush-capture')));
  const plain = ordered.filter(([k]) => !k.endsWith('/flush-capture'));
  const flushes = ordered.filter(([k]) => k.endsWith('/flush-capture'));
  const gate = gateOf(d);
  await gate.shared(() =>
    Promise.all(plain.map(async ([k, as]) => (await callGroup(d, src, Number(k.split('/')[0]), false, as)).forEach((v, n) => results.set(n, v)))),
  );
  for (const [k, as] of flushes) {
    await gate.alone(async () => (await callGroup(d, src, Number(k.split('/')[0]), true, as)).forEach((v, n) => results.set(n, v)));
  }
  // Observations come back complete: the runtime joined each to its sidecar's record (runtime/worker.ts).
  const arrived = await arrivals(d, batch);
  return batch.map((a) => {
    const client = results.get(a.nonce);
    if (!client) throw new TargetError(`the probe client in ${src.host.key} returned no result for probe ${a.probe.name}`);
    const obs = arrived.get(a.nonce);
    const dest = d.pods.get(a.probe.to);
    return {
      nonce: a.nonce,
      probeName: a.probe.name,
      client,
      arrived: obs ?? [],
      destinationQueried: obs !== undefined,
      destinationAddresses: dest ? [dest.host.address] : [],
    };
  });
}

export function probeBatch(d: LabDeployment, batch: ProbeAttempt[]): Promise<AttemptResult[]> {
  if (batch.length === 0) return Promise.resolve([]);
  const from = batch[0].probe.from;
  const src = d.pods.get(from);
  if (src?.host.kind !== 'workload') return Promise.reject(new TargetError(`probe source ${from} is not a workload of this lab`));
  if (batch.some((a) => a.probe.from !== from)) return Promise.reject(new TargetError('a probe batch must share one source workload'));
  const next = src.queue.then(() => {
    const t0 = Date.now();
    return withDropWatch(d, () => runBatch(d, src, batch)).finally(() => timed(`batch: ${from} ${batch.length} attempts`, t0));
  });
  src.queue = next.catch(() => undefined);
  return next;
}
