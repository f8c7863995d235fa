/**
 * What one runtime thread can carry. Every pod's agent and sidecar of a lab share the thread's event loop, so a
 * probe's reply can wait behind every other probe's work; with hundreds in flight (45 pods × 16) a reply took
 * longer than the client's timeout and a reachable flow read as blocked. Two defences, both measured on the loop
 * itself (a timer ticking every TICK_MS; how late it fires is how long any ready event waited):
 *
 * - Admission (backpressure): a probe starts only while the loop keeps up — few probes are starting
 *   (ACTIVE_MIN), or the last tick was on time and fewer than ACTIVE_MAX probes started within ACTIVE_MS — and
 *   never more than MAX_IN_FLIGHT at once (sockets). The rest wait in order, their timeouts not yet running.
 *   A probe waiting for a timeout costs no CPU, so it stops counting as starting after ACTIVE_MS.
 * - Self-check: a reply needs about REPLY_TURNS turns of the loop (client, two sidecars, TLS, server, back). A
 *   probe that ended in a timeout while the loop was so late that those turns alone could fill half the wait
 *   (REPLY_TURNS × the mean delay of a tick), or while one stall took a quarter of it, proves nothing about the
 *   mesh: its result carries the stall, and the engine judges it ERROR with that reason, never FAIL or PASS.
 */
import { performance } from 'node:perf_hooks';
import type { ProbeHost } from '../../../agent/call.js';
import type { ProbeResult } from '../../../agent/types.js';

export const TICK_MS = 10;
/** MESHPROBE_LAB_TIMING=1: a line about admission every 200 ticks to stderr (../timing.ts). */
const TIMING = process.env.MESHPROBE_LAB_TIMING === '1';
/** Ticks kept: a minute, longer than any probe's timeout. */
const HISTORY = 6_000;
export const LIMITS = {
  /** Probes in flight at once in one thread, waiting ones included (each holds up to six sockets). */
  maxInFlight: 512,
  /** Probes that may always be starting, however late the loop is (progress under any load). */
  activeMin: 8,
  /** Probes started within ACTIVE_MS that may be running at once while the loop keeps up. */
  activeMax: 64,
  activeMs: 250,
  /** A tick later than this means the loop is behind: no more probes start until it catches up. */
  lagOkMs: 20,
  /** Turns of the loop a reply takes; with the mean tick delay, what the loop alone added to the reply. */
  replyTurns: 10,
  /** Not believed: a timeout whose wait the loop's delays could fill this share of (or one stall, half of it). */
  stallShare: 0.5,
};

interface Tick {
  at: number;
  lagMs: number;
}

export class Capacity implements ProbeHost {
  private readonly ticks: Tick[] = [];
  private expected: number;
  private readonly waiting: Array<() => void> = [];
  /** Probes started within ACTIVE_MS that have not ended: id → start time. */
  private readonly starting = new Map<number, number>();
  private inFlight = 0;
  private nextId = 1;
  private tickCount = 0;
  private timer?: NodeJS.Timeout;
  /** The most probes seen in flight at once (for tests and the runtime's report). */
  peakInFlight = 0;

  constructor(
    private readonly limits = LIMITS,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.expected = clock() + TICK_MS;
  }

  /** Starts the loop's clock. The timer is unref'd: it never keeps the thread alive. */
  start(): this {
    this.expected = this.clock() + TICK_MS;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Records how late this tick came, then lets waiting probes start while the loop keeps up. */
  tick(now = this.clock()): void {
    const lagMs = Math.max(0, now - this.expected);
    this.expected = now + TICK_MS;
    this.ticks.push({ at: now, lagMs });
    if (TIMING && ++this.tickCount % 200 === 0) {
      process.stderr.write(
        `lab-timing: runtime in flight ${this.inFlight}, starting ${this.starting.size}, waiting ${this.waiting.length}, lag ${lagMs.toFixed(0)} ms\n`,
      );
    }
    if (this.ticks.length > HISTORY) this.ticks.splice(0, this.ticks.length - HISTORY);
    this.pump(now);
  }

  private lastLagMs(): number {
    return this.ticks.at(-1)?.lagMs ?? 0;
  }

  private canStart(now: number): boolean {
    if (this.inFlight >= this.limits.maxInFlight) return false;
    for (const [id, at] of this.starting) if (at < now - this.limits.activeMs) this.starting.delete(id);
    if (this.starting.size < this.limits.activeMin) return true;
    return this.starting.size < this.limits.activeMax && this.lastLagMs() <= this.limits.lagOkMs;
  }

  private pump(now = this.clock()): void {
    while (this.waiting.length > 0 && this.canStart(now)) this.waiting.shift()!();
  }

  admit(): Promise<() => void> {
    return new Promise((resolve) => {
      const go = () => {
        const id = this.nextId++;
        this.starting.set(id, this.clock());
        this.inFlight += 1;
        this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.starting.delete(id);
          this.inFlight -= 1;
          this.pump();
        });
      };
      if (this.waiting.length === 0 && this.canStart(this.clock())) go();
      else this.waiting.push(go);
    });
  }

  /**
   * The loop's delays between `from` and `to` (clock times): in total, the longest, and how many ticks came —
   * a tick's delay is how long any event that became ready with it waited.
   */
  delays(from: number, to: number): { totalMs: number; maxMs: number; ticks: number } {
    let totalMs = 0;
    let maxMs = 0;
    let ticks = 0;
    for (let i = this.ticks.length - 1; i >= 0 && this.ticks[i].at >= from; i--) {
      const t = this.ticks[i];
      const inside = Math.max(0, Math.min(t.at, to) - Math.max(t.at - t.lagMs, from));
      totalMs += inside;
      maxMs = Math.max(maxMs, inside);
      ticks += 1;
    }
    // A stall still going on at `to` (no tick since the last was due).
    const last = this.ticks.at(-1);
    const due = Math.max(last ? last.at + TICK_MS : from, from);
    if (to > due + TICK_MS) {
      totalMs += to - due;
      maxMs = Math.max(maxMs, to - due);
      ticks += 1;
    }
    return { totalMs, maxMs, ticks };
  }

  stallDuring(startedAt: number, result: ProbeResult): string | undefined {
    // A timeout the network decided before it came (kernel evidence, ProbeResult.early) owes nothing to this loop.
    if (result.outcome.kind !== 'timeout' || result.early) return undefined;
    const now = this.clock();
    const wait = now - startedAt;
    const { totalMs, maxMs, ticks } = this.delays(startedAt, now);
    const meanMs = ticks ? totalMs / ticks : 0;
    const added = Math.min(wait, this.limits.replyTurns * meanMs);
    if (added < this.limits.stallShare * wait && maxMs < (this.limits.stallShare / 2) * wait) return undefined;
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    return (
      `the lab runtime stalled while this probe waited for its ${result.outcome.phase} timeout (${s(wait)}): its event ` +
      `loop was late by ${s(meanMs)} per turn on average and ${s(maxMs)} at once, so a reply could not have been ` +
      `handled in time and the timeout says nothing about the mesh; the machine or the lab is overloaded ` +
      `(run fewer scenarios in parallel, a smaller lab, or on a less busy machine)`
    );
  }
}
