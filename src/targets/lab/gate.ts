/**
 * A readers–writer gate for one lab deployment. Ordinary probe batches share it; a `bypass: flush-capture` batch
 * holds it alone, because flushing a pod's nat table also removes capture of traffic INTO that pod: a probe of
 * another source towards it must not run meanwhile, or it would see the pod without its sidecar.
 * A waiting exclusive holder blocks new shared ones, so a flush is never starved.
 */
export class Gate {
  private active = 0;
  private exclusive: Promise<void> = Promise.resolve();
  private exclusiveHeld = false;
  private drained: (() => void) | undefined;

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    while (this.exclusiveHeld) await this.exclusive;
    this.active += 1;
    try {
      return await fn();
    } finally {
      this.active -= 1;
      if (this.active === 0) this.drained?.();
    }
  }

  async alone<T>(fn: () => Promise<T>): Promise<T> {
    while (this.exclusiveHeld) await this.exclusive;
    let release!: () => void;
    this.exclusive = new Promise<void>((r) => (release = r));
    this.exclusiveHeld = true;
    try {
      if (this.active > 0) await new Promise<void>((r) => (this.drained = r));
      this.drained = undefined;
      return await fn();
    } finally {
      this.exclusiveHeld = false;
      release();
    }
  }
}
