/**
 * The bookkeeping every probe shares: timings measured from the start of the attempt, byte counters, defaults
 * for timeouts, and the single place a ProbeResult is assembled.
 */
import { performance } from 'node:perf_hooks';
import type { SealedFate } from './net.js';
import type { Outcome, ProbeRequest, ProbeResult } from './types.js';

export const DEFAULT_CONNECT_MS = 2_000;
export const DEFAULT_TOTAL_MS = 5_000;

const ms = (x: number) => Math.round(x * 1000) / 1000;

export class Attempt {
  private readonly t0 = performance.now();
  /** When the total timeout ends the attempt, in epoch ms. */
  readonly deadline: number;
  private connectMs?: number;
  private firstByteMs?: number;
  sent = 0;
  received = 0;

  /** Evidence that decided the outcome before its timeout (see SEALED_EVENT). */
  early?: string;

  constructor(readonly request: ProbeRequest) {
    this.deadline = Date.now() + this.totalTimeoutMs;
  }

  /**
   * Whether a fate sealed by the Net may end this attempt now: only if nothing in the path would end it first
   * (`givesUpAt` before this attempt's own deadline means the slow path would see that instead).
   */
  takesSealed(fate: SealedFate): boolean {
    return fate.givesUpAt === undefined || fate.givesUpAt > this.deadline;
  }

  get connectTimeoutMs(): number {
    return Math.min(this.request.timeoutMs?.connect ?? DEFAULT_CONNECT_MS, this.totalTimeoutMs);
  }

  get totalTimeoutMs(): number {
    return this.request.timeoutMs?.total ?? DEFAULT_TOTAL_MS;
  }

  markConnect(): void {
    this.connectMs ??= ms(performance.now() - this.t0);
  }

  markFirstByte(): void {
    this.firstByteMs ??= ms(performance.now() - this.t0);
  }

  result(outcome: Outcome): ProbeResult {
    const timings: ProbeResult['timings'] = { totalMs: ms(performance.now() - this.t0) };
    if (this.connectMs !== undefined) timings.connectMs = this.connectMs;
    if (this.firstByteMs !== undefined) timings.firstByteMs = this.firstByteMs;
    const r: ProbeResult = {
      nonce: this.request.nonce,
      request: this.request,
      outcome,
      timings,
      bytes: { sent: this.sent, received: this.received },
    };
    if (this.early !== undefined && outcome.kind === 'timeout') r.early = { by: this.early };
    return r;
  }
}
