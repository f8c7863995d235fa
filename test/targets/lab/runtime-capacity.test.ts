/**
 * The runtime's capacity (src/targets/lab/runtime/capacity.ts) on a fake clock: admission never lets more probes
 * in flight than its bound, holds new probes back while the loop is late, and releases them in order; the
 * self-check marks a timeout that overlapped a stall, and only a timeout. No timing is asserted: time is the fake
 * clock's.
 */
import { describe, expect, test } from '@jest/globals';
import { runChains, setProbeHost } from '../../../src/agent/call.js';
import type { ProbeRequest, ProbeResult } from '../../../src/agent/types.js';
import { Capacity, LIMITS, LoopTicks, TICK_MS } from '../../../src/targets/lab/runtime/capacity.js';

function fakeClock() {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const result = (kind: 'ok' | 'timeout'): ProbeResult => ({
  nonce: 'n',
  request: { nonce: 'n', protocol: 'tcp', host: 'h', port: 1 },
  timings: { totalMs: 1 },
  bytes: { sent: 0, received: 0 },
  outcome: kind === 'ok' ? { kind: 'ok' } : { kind: 'timeout', phase: 'connect' },
});

const flush = () => new Promise((r) => setImmediate(r));

describe('admission', () => {
  test('never more than maxInFlight at once; the rest wait and start in order as places free up', async () => {
    const clock = fakeClock();
    const cap = new Capacity({ ...LIMITS, maxInFlight: 5, activeMin: 5, activeMax: 5 }, clock.now);
    const started: number[] = [];
    const releases: Array<() => void> = [];
    for (let i = 0; i < 20; i++) void cap.admit().then((release) => (started.push(i), releases.push(release)));
    await flush();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    releases.splice(0, 2).forEach((r) => r());
    await flush();
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // Releasing twice frees one place, not two.
    releases[0]();
    releases[0]();
    await flush();
    expect(started).toHaveLength(8);
    expect(cap.peakInFlight).toBe(5);
  });

  test('while the loop is late only activeMin probes start; once it catches up, more do', async () => {
    const clock = fakeClock();
    const cap = new Capacity({ ...LIMITS, activeMin: 2, activeMax: 6, maxInFlight: 100 }, clock.now);
    clock.advance(TICK_MS + 500); // a tick half a second late
    cap.tick();
    let started = 0;
    for (let i = 0; i < 10; i++) void cap.admit().then(() => (started += 1));
    await flush();
    expect(started).toBe(2);
    clock.advance(TICK_MS); // on time
    cap.tick();
    await flush();
    expect(started).toBe(6);
    // Probes that started long ago are waiting for their timeouts: they no longer count as starting.
    for (let t = 0; t <= LIMITS.activeMs; t += TICK_MS) {
      clock.advance(TICK_MS);
      cap.tick();
    }
    await flush();
    expect(started).toBe(10);
  });

  test('runChains through a host: every request runs, and never more in flight than the host allows', async () => {
    const clock = fakeClock();
    const cap = new Capacity({ ...LIMITS, maxInFlight: 3, activeMin: 3, activeMax: 3 }, clock.now);
    let inFlight = 0;
    let peak = 0;
    const send = async (r: ProbeRequest): Promise<ProbeResult> => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((res) => setTimeout(res, 1));
      inFlight -= 1;
      return { ...result('ok'), nonce: r.nonce };
    };
    const chains = Array.from({ length: 10 }, (_, c) => [1, 2].map((k) => ({ nonce: `c${c}-${k}`, protocol: 'tcp' as const, host: 'h', port: 1 })));
    setProbeHost(cap);
    try {
      const results = await runChains(chains, { concurrency: 16, staggerMs: 0, send });
      expect(results.map((r) => r.nonce).sort()).toEqual(
        chains
          .flat()
          .map((r) => r.nonce)
          .sort(),
      );
      expect(peak).toBe(3);
    } finally {
      setProbeHost(undefined);
    }
  });
});

describe('self-check', () => {
  test('a timeout that waited through a stall carries the reason; one on an idle loop does not', () => {
    const clock = fakeClock();
    const cap = new Capacity(LIMITS, clock.now);
    const t0 = clock.now();
    for (let i = 0; i < 100; i++) {
      clock.advance(TICK_MS);
      cap.tick();
    }
    expect(cap.stallDuring(t0, result('timeout'))).toBeUndefined();
    const t1 = clock.now();
    clock.advance(TICK_MS + 1_500); // the loop could not run for 1.5 s
    cap.tick();
    for (let i = 0; i < 50; i++) {
      clock.advance(TICK_MS);
      cap.tick();
    }
    const why = cap.stallDuring(t1, result('timeout'));
    expect(why).toMatch(/stalled while this probe waited for its connect timeout \(2\.01 s\).*1\.50 s at once/);
    // An answer is evidence whatever the loop did: only a timeout can be the harness's own.
    expect(cap.stallDuring(t1, result('ok'))).toBeUndefined();
  });

  test('a loop late on every turn (a starved CPU) makes a timeout unbelievable too', () => {
    const clock = fakeClock();
    const cap = new Capacity(LIMITS, clock.now);
    const t0 = clock.now();
    for (let i = 0; i < 10; i++) {
      clock.advance(TICK_MS + 190); // woken five times a second
      cap.tick();
    }
    expect(cap.stallDuring(t0, result('timeout'))).toMatch(/late by 0\.19 s per turn/);
  });

  test('a stall still going on when the timeout is read counts', () => {
    const clock = fakeClock();
    const cap = new Capacity(LIMITS, clock.now);
    cap.tick();
    const t0 = clock.now();
    clock.advance(2_000); // no tick since: the loop has been blocked all along
    expect(cap.stallDuring(t0, result('timeout'))).toMatch(/stalled/);
  });

  test("another thread's loop counts too (a lab's pods on several threads): while it is alive, not after", () => {
    const clock = fakeClock();
    const ticks = LoopTicks.create(2);
    const client = new Capacity(LIMITS, clock.now, { ticks, slot: 0 });
    const server = new Capacity(LIMITS, clock.now, { ticks, slot: 1 });
    ticks.setAlive(0, true);
    ticks.setAlive(1, true);
    const t0 = clock.now();
    client.tick();
    server.tick();
    // The client's loop keeps time; the server's could not run for 1.5 s.
    for (let i = 0; i < 150; i++) {
      clock.advance(TICK_MS);
      client.tick();
    }
    server.tick();
    for (let i = 0; i < 50; i++) {
      clock.advance(TICK_MS);
      client.tick();
      server.tick();
    }
    expect(client.delays(t0, clock.now()).maxMs).toBeLessThan(TICK_MS);
    expect(client.stallDuring(t0, result('timeout'))).toMatch(/its event loop \(thread 1 of 2\) was late by .* and 1\.4\d s at once/);
    // A thread that has ended takes no part: its last tick is no stall.
    ticks.setAlive(1, false);
    expect(client.stallDuring(t0, result('timeout'))).toBeUndefined();
  });
});
