/** `docker exec` shaped as the Kubernetes exec result the cluster targets read (status, exit code as a cause). */
import { spawnSync } from 'node:child_process';
import type { ExecResult } from '../../../src/targets/k8s/kube.js';

export function dockerExec(id: string, command: string[], input?: string): ExecResult {
  const r = spawnSync('docker', ['exec', ...(input !== undefined ? ['-i'] : []), id, ...command], { input: input ?? '', encoding: 'utf8' });
  const status =
    r.status === 0
      ? { status: 'Success' }
      : { status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(r.status) }] } };
  return { stdout: r.stdout, stderr: r.stderr, status };
}
