/**
 * How every target sends a probe's repeated attempts: as a chain, attempt k+1 after attempt k. The agent starts a
 * chain's next request when the previous one ended or ATTEMPT_STAGGER_MS after it started, whichever is first
 * (`call --chains`, runChains). A quick probe's attempts so go one after another — consecutive, as the engine
 * judges them, and a second connection to the same place meets what it would (a sidecar's pooled connection, a
 * resumed TLS session) — while a probe that waits for a timeout (the usual negative probe) does not wait N times.
 */
import type { ProbeAttempt } from './target.js';

export const ATTEMPT_STAGGER_MS = 100;

/**
 * A batch's attempts as chains, one per probe, each in attempt order. Attempts of one probe with the same number
 * (a batch sent to measure throughput, not to judge) are not sequential to each other: the j-th of each number goes
 * in the probe's j-th chain.
 */
export function attemptChains(attempts: ProbeAttempt[]): ProbeAttempt[][] {
  const byProbe = new Map<string, ProbeAttempt[][]>(attempts.map((a) => [a.probe.name, []])); // first-seen order
  for (const a of [...attempts].sort((x, y) => x.attempt - y.attempt)) {
    const list = byProbe.get(a.probe.name)!;
    const open = list.find((c) => c.at(-1)!.attempt < a.attempt);
    if (open) open.push(a);
    else list.push([a]);
  }
  return [...byProbe.values()].flat();
}
