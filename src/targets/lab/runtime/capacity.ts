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
 *   A lab's pods are spread over several runtime threads, so a probe's path (client and its sidecar on one thread,
 *   the server's sidecar and agent perhaps on another) crosses loops: every thread publishes its ticks in shared
 *   memory (LoopTicks), and the self-check looks at every live thread's loop, judging by the latest one.
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

/** Milliseconds since the epoch, with a fraction: comparable between the threads of one process. */
export const absoluteNow = (): number => performance.timeOrigin + performance.now();

/**
 * The ticks of every runtime thread, in memory all of them share (one SharedArrayBuffer the lab's main thread
 * makes): thread `slot` writes its own ring, any thread reads all. Per slot: a published count and whether the
 * thread is alive (Int32), then HISTORY ticks of (at, lag) (Float64). A reader may see a tick being written; the
 * count is published after the tick is, so it reads only whole ones but the oldest (overwritten meanwhile).
 */
export class LoopTicks {
  private readonly head: Int32Array;
  private readonly ring: Float64Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly slots: number,
  ) {
    this.head = new Int32Array(buffer, 0, slots * 2);
    this.ring = new Float64Array(buffer, LoopTicks.headBytes(slots), slots * HISTORY * 2);
  }

  private static headBytes(slots: number): number {
    return Math.ceil((slots * 2 * 4) / 8) * 8;
  }

  static create(slots: number): LoopTicks {
    return new LoopTicks(new SharedArrayBuffer(LoopTicks.headBytes(slots) + slots * HISTORY * 2 * 8), slots);
  }

  setAlive(slot: number, alive: boolean): void {
    Atomics.store(this.head, slot * 2 + 1, alive ? 1 : 0);
  }

  alive(slot: number): boolean {
    return Atomics.load(this.head, slot * 2 + 1) === 1;
  }

  write(slot: number, tick: Tick): void {
    const n = Atomics.load(this.head, slot * 2);
    const at = (slot * HISTORY + (n % HISTORY)) * 2;
    this.ring[at] = tick.at;
    this.ring[at + 1] = tick.lagMs;
    Atomics.store(this.head, slot * 2, (n + 1) % 2 ** 30);
  }

  /** Slot's ticks, newest first. */
  *newest(slot: number): Generator<Tick> {
    const n = Atomics.load(this.head, slot * 2);
    const count = Math.min(n, HISTORY - 1);
    for (let k = 1; k <= count; k++) {
      const at = (slot * HISTORY + ((n - k + HISTORY) % HISTORY)) * 2;
      yield { at: this.ring[at], lagMs: this.ring[at + 1] };
    }
  }
}

/** The loop's delays between `from` and `to` (clock times), from its ticks newest first; see Capacity.delays. */
function delaysOf(newest: Iterable<Tick>, from: number, to: number): { totalMs: number; maxMs: number; ticks: number } {
  let totalMs = 0;
  let maxMs = 0;
  let ticks = 0;
  let last: Tick | undefined;
  for (const t of newest) {
    last ??= t;
    if (t.at < from) break;
    const inside = Math.max(0, Math.min(t.at, to) - Math.max(t.at - t.lagMs, from));
    totalMs += inside;
    maxMs = Math.max(maxMs, inside);
    ticks += 1;
  }
  // A stall still going on at `to` (no tick since the last was due).
  const due = Math.max(last ? last.at + TICK_MS : from, from);
  if (to > due + TICK_MS) {
    totalMs += to - due;
    maxMs = Math.max(maxMs, to - due);
    ticks += 1;
  }
  return { totalMs, maxMs, ticks };
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
    private readonly clock: () => number = absoluteNow,
    /** This thread's slot among the runtime's threads, whose loops the self-check also looks at. */
    private readonly shared?: { ticks: LoopTicks; slot: number },
  ) {
    this.expected = clock() + TICK_MS;
  }

  now(): number {
    return this.clock();
  }

  /** Starts the loop's clock. The timer is unref'd: it never keeps the thread alive. */
  start(): this {
    this.shared?.ticks.setAlive(this.shared.slot, true);
    this.expected = this.clock() + TICK_MS;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.shared?.ticks.setAlive(this.shared.slot, false);
  }

  /** Records how late this tick came, then lets waiting probes start while the loop keeps up. */
  tick(now = this.clock()): void {
    const lagMs = Math.max(0, now - this.expected);
    this.expected = now + TICK_MS;
    this.ticks.push({ at: now, lagMs });
    this.shared?.ticks.write(this.shared.slot, { at: now, lagMs });
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
    const own = this.ticks;
    return delaysOf(
      (function* () {
        for (let i = own.length - 1; i >= 0; i--) yield own[i];
      })(),
      from,
      to,
    );
  }

  /** The same for every other live runtime thread (from shared memory), as `thread N: delays`. */
  private otherDelays(from: number, to: number): Array<{ slot: number; totalMs: number; maxMs: number; ticks: number }> {
    const sh = this.shared;
    if (!sh) return [];
    const out = [];
    for (let slot = 0; slot < sh.ticks.slots; slot++) {
      if (slot === sh.slot || !sh.ticks.alive(slot)) continue;
      out.push({ slot, ...delaysOf(sh.ticks.newest(slot), from, to) });
    }
    return out;
  }

  stallDuring(startedAt: number, result: ProbeResult): string | undefined {
    // A timeout the network decided before it came (kernel evidence, ProbeResult.early) owes nothing to this loop.
    if (result.outcome.kind !== 'timeout' || result.early) return undefined;
    const now = this.clock();
    const wait = now - startedAt;
    const loops = [{ slot: this.shared?.slot, ...this.delays(startedAt, now) }, ...this.otherDelays(startedAt, now)];
    // The latest loop decides: a reply crosses it, whichever thread it is.
    const judged = loops.map(({ slot, totalMs, maxMs, ticks }) => {
      const meanMs = ticks ? totalMs / ticks : 0;
      return { slot, meanMs, maxMs, added: Math.min(wait, this.limits.replyTurns * meanMs) };
    });
    const worst = judged.reduce((a, b) => (b.added > a.added || (b.added === a.added && b.maxMs > a.maxMs) ? b : a));
    const stalled = judged.filter((j) => j.added >= this.limits.stallShare * wait || j.maxMs >= (this.limits.stallShare / 2) * wait);
    if (stalled.length === 0) return undefined;
    const w = stalled.includes(worst) ? worst : stalled[0];
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const which = loops.length > 1 && w.slot !== undefined ? ` (thread ${w.slot} of ${loops.length})` : '';
    return (
      `the lab runtime stalled while this probe waited for its ${result.outcome.phase} timeout (${s(wait)}): its event ` +
      `loop${which} was late by ${s(w.meanMs)} per turn on average and ${s(w.maxMs)} at once, so a reply could not have been ` +
      `handled in time and the timeout says nothing about the mesh; the machine or the lab is overloaded ` +
      `(run fewer scenarios in parallel, a smaller lab, or on a less busy machine)`
    );
  }
}
