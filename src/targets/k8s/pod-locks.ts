/**
 * Per-pod locks for probe execs on a cluster. A `flush-capture` exec turns the pod's traffic capture off while it
 * runs, so nothing else may send from or to that pod meanwhile (its other batches would go out uncaptured, probes
 * to it would arrive uncaptured): it holds the pod exclusively; every other exec holds its source and destinations
 * shared. A request takes all its locks at once (no hold-and-wait, so no deadlock) and waits behind every earlier
 * request it conflicts with (first come, first served, so a flush is not starved by a stream of shared users).
 */
interface Request {
  shared: string[];
  exclusive: string[];
  grant: () => void;
}

export class PodLocks {
  private readonly sharedHeld = new Map<string, number>();
  private readonly exclusiveHeld = new Set<string>();
  private readonly waiting: Request[] = [];

  /** Resolves with the release function once every key is held. */
  async acquire(shared: string[], exclusive: string[]): Promise<() => void> {
    const req: Request = { shared: shared.filter((k) => !exclusive.includes(k)), exclusive: [...new Set(exclusive)], grant: () => {} };
    const granted = new Promise<void>((resolve) => (req.grant = resolve));
    this.waiting.push(req);
    this.pump();
    await granted;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of req.shared) {
        const n = (this.sharedHeld.get(k) ?? 1) - 1;
        if (n) this.sharedHeld.set(k, n);
        else this.sharedHeld.delete(k);
      }
      for (const k of req.exclusive) this.exclusiveHeld.delete(k);
      this.pump();
    };
  }

  private pump(): void {
    const blocked: Request[] = [];
    for (const req of [...this.waiting]) {
      if (this.free(req) && !blocked.some((b) => conflicts(b, req))) {
        this.waiting.splice(this.waiting.indexOf(req), 1);
        for (const k of req.shared) this.sharedHeld.set(k, (this.sharedHeld.get(k) ?? 0) + 1);
        for (const k of req.exclusive) this.exclusiveHeld.add(k);
        req.grant();
      } else blocked.push(req);
    }
  }

  private free(req: Request): boolean {
    return req.shared.every((k) => !this.exclusiveHeld.has(k)) && req.exclusive.every((k) => !this.exclusiveHeld.has(k) && !this.sharedHeld.has(k));
  }
}

function conflicts(a: Request, b: Request): boolean {
  const touches = (r: Request, k: string) => r.shared.includes(k) || r.exclusive.includes(k);
  return a.exclusive.some((k) => touches(b, k)) || b.exclusive.some((k) => touches(a, k));
}
