/** Chains of requests (a probe's repeated attempts): order, stagger and the concurrency bound, timed for real. */
import { describe, expect, test } from '@jest/globals';
import { runChains } from '../../src/agent/call.js';
import type { ProbeRequest, ProbeResult } from '../../src/agent/types.js';

const req = (nonce: string): ProbeRequest => ({ nonce, protocol: 'tcp', host: '127.0.0.1', port: 9 });

/** A sender that takes `ms(nonce)` to answer and records when each request started and ended. */
function recorder(ms: (nonce: string) => number) {
  const t0 = performance.now();
  const log = new Map<string, { start: number; end: number }>();
  let inFlight = 0;
  let maxInFlight = 0;
  const send = async (r: ProbeRequest): Promise<ProbeResult> => {
    const start = performance.now() - t0;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((res) => setTimeout(res, ms(r.nonce)));
    inFlight--;
    log.set(r.nonce, { start, end: performance.now() - t0 });
    return { nonce: r.nonce, request: r, outcome: { kind: 'refused' }, timings: { totalMs: ms(r.nonce) }, bytes: { sent: 0, received: 0 } };
  };
  return { send, log, max: () => maxInFlight };
}

describe('runChains', () => {
  test('quick requests of a chain go strictly one after another; chains run side by side', async () => {
    const r = recorder(() => 20);
    const results = await runChains(
      [
        [req('a1'), req('a2'), req('a3')],
        [req('b1'), req('b2')],
      ],
      { send: r.send, staggerMs: 500 },
    );
    expect(results.map((x) => x.nonce).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    const at = (n: string) => r.log.get(n)!;
    expect(at('a2').start).toBeGreaterThanOrEqual(at('a1').end - 1);
    expect(at('a3').start).toBeGreaterThanOrEqual(at('a2').end - 1);
    expect(at('b2').start).toBeGreaterThanOrEqual(at('b1').end - 1);
    expect(at('b1').start).toBeLessThan(at('a1').end); // the chains overlap
    expect(r.max()).toBe(2);
  });

  test('a request that hangs holds its chain back only for the stagger, not for its whole time', async () => {
    const r = recorder((n) => (n === 'slow' ? 1_500 : 10));
    const t = performance.now();
    await runChains([[req('slow'), req('next'), req('last')]], { send: r.send, staggerMs: 100 });
    const next = r.log.get('next')!;
    expect(next.start - r.log.get('slow')!.start).toBeGreaterThanOrEqual(95);
    expect(next.start - r.log.get('slow')!.start).toBeLessThan(1_000);
    expect(r.log.get('last')!.start).toBeGreaterThanOrEqual(next.end - 1); // quick again: after the previous ended
    expect(performance.now() - t).toBeLessThan(2_500); // one timeout's worth, not three
  });

  test('no more than `concurrency` requests are in flight over all chains', async () => {
    const r = recorder(() => 30);
    const chains = Array.from({ length: 6 }, (_, i) => [req(`c${i}a`), req(`c${i}b`)]);
    const results = await runChains(chains, { send: r.send, concurrency: 2 });
    expect(results).toHaveLength(12);
    expect(r.max()).toBe(2);
  });

  test('no chains, no results', async () => {
    expect(await runChains([])).toEqual([]);
  });
});
