/** Running the CLI in a child process and interrupting it, for the Ctrl-C tests. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs argv and sends SIGINT after `afterMs`, or as soon as `ready(output so far)` holds (polled) when it is given. */
export function runAndInterrupt(argv: string[], afterMs: number, ready?: (out: string) => boolean): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const started = Date.now();
    const timer = setInterval(
      () => {
        if (Date.now() - started >= afterMs || ready?.(out)) {
          clearInterval(timer);
          child.kill('SIGINT');
        }
      },
      ready ? 100 : afterMs,
    );
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ code, out });
    });
  });
}
