/** Running the system tools the lab drives (ip, iptables-restore, …): failures become TargetErrors naming the command. */
import { spawn } from 'node:child_process';
import { TargetError } from '../target.js';
import { timed, timingOn } from './timing.js';

export interface RunResult {
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input?: string): Promise<RunResult> {
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) =>
      reject(new TargetError(`cannot run ${cmd}: ${err.message}`, "run scripts/bootstrap to install the lab's system tools")),
    );
    child.on('close', (code) => {
      if (timingOn()) timed(`${cmd} ${args.slice(0, 5).join(' ')} (input ${(input ?? '').length} B, output ${stdout.length} B)`, startedAt);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new TargetError(`${cmd} ${args.join(' ')} failed (exit ${code}): ${stderr.trim() || stdout.trim()}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}
