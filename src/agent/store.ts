/**
 * The agent's memory of what arrived: a ring buffer of Observations indexed by nonce. Bounded, because an agent
 * lives as long as its workload and health checks or scanners may send it traffic forever.
 */
import type { Observation } from './types.js';

export const DEFAULT_CAPACITY = 10_000;

export class ObservationStore {
  private readonly ring: (Observation | undefined)[];
  private next = 0;
  private readonly byNonce = new Map<string, Observation[]>();

  constructor(readonly capacity: number = DEFAULT_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`capacity must be a positive integer, got ${capacity}`);
    this.ring = new Array<Observation | undefined>(capacity);
  }

  add(observation: Observation): void {
    const evicted = this.ring[this.next];
    if (evicted) this.forget(evicted);
    this.ring[this.next] = observation;
    this.next = (this.next + 1) % this.capacity;
    const list = this.byNonce.get(observation.nonce);
    if (list) list.push(observation);
    else this.byNonce.set(observation.nonce, [observation]);
  }

  /** Every nonce asked for gets an entry; an empty list means nothing arrived (or it was evicted). */
  query(nonces: readonly string[]): Record<string, Observation[]> {
    const out: Record<string, Observation[]> = {};
    for (const n of nonces) out[n] = [...(this.byNonce.get(n) ?? [])];
    return out;
  }

  get size(): number {
    let n = 0;
    for (const list of this.byNonce.values()) n += list.length;
    return n;
  }

  private forget(observation: Observation): void {
    const list = this.byNonce.get(observation.nonce);
    if (!list) return;
    // The oldest observation for a nonce is always first: observations enter and leave in arrival order.
    list.shift();
    if (list.length === 0) this.byNonce.delete(observation.nonce);
  }
}
