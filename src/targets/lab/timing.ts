/**
 * Where a lab's time goes, for the benchmarks: with MESHPROBE_LAB_TIMING=1 in the environment the lab writes one
 * line per phase (deploy steps, commands it runs, probe batches, counter reads, teardown) to stderr. Off by default.
 */
const ON = process.env.MESHPROBE_LAB_TIMING === '1';

export function timingOn(): boolean {
  return ON;
}

/** Writes `what took N ms` when timing is on. */
export function timed(what: string, startedAt: number): void {
  if (ON) process.stderr.write(`lab-timing: ${what} ${Date.now() - startedAt} ms\n`);
}
