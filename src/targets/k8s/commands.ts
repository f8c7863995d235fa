/**
 * External commands (kind, istioctl, docker) behind one small interface: the real runner uses zx; `render`
 * records the commands instead of running them; tests script the answers. Every command is logged the same way.
 */
import { $, which } from 'zx';
import { TargetError } from '../target.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface CommandOptions {
  /** Text written to the command's stdin. */
  input?: string;
  signal?: AbortSignal;
}

export interface CommandRunner {
  run(cmd: string, args: string[], options?: CommandOptions): Promise<CommandResult>;
}

export type Tool = 'kind' | 'istioctl' | 'docker' | 'kubectl';

const INSTALL_HINT: Record<Tool, string> = {
  kind: 'install the pinned kind release with `scripts/install-tools` (or see https://kind.sigs.k8s.io/docs/user/quick-start/#installation)',
  istioctl: 'install the pinned istioctl with `scripts/install-tools` (or see https://istio.io/latest/docs/setup/install/istioctl/)',
  docker: 'install Docker (or another engine kind supports) and make sure `docker info` works',
  kubectl: 'install kubectl from https://kubernetes.io/docs/tasks/tools/',
};

/** Finds a tool on PATH; a missing tool is an error that says how to install it. */
export async function requireTool(
  tool: Tool,
  lookup: (name: string) => Promise<string | null> = (n) => which(n, { nothrow: true }),
): Promise<string> {
  const found = await lookup(tool);
  if (!found) throw new TargetError(`${tool} was not found on PATH`, INSTALL_HINT[tool]);
  return found;
}

/** Runs commands for real with zx (no shell: arguments are passed as an array). */
export class ZxRunner implements CommandRunner {
  constructor(private readonly log: (line: string) => void = () => {}) {}

  async run(cmd: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> {
    this.log(formatCommand(cmd, args));
    const p = $({ nothrow: true, quiet: true, input: options.input, signal: options.signal })`${cmd} ${args}`;
    const out = await p;
    return { stdout: out.stdout, stderr: out.stderr, exitCode: out.exitCode ?? 1 };
  }
}

/** Runs a command and turns a non-zero exit into a TargetError with the command's own words. */
export async function runChecked(runner: CommandRunner, cmd: string, args: string[], options?: CommandOptions): Promise<string> {
  const r = await runner.run(cmd, args, options);
  if (r.exitCode !== 0) {
    const detail = (r.stderr || r.stdout).trim().split('\n').slice(-8).join('\n');
    throw new TargetError(`\`${formatCommand(cmd, args)}\` failed with exit code ${r.exitCode}:\n${detail}`);
  }
  return r.stdout;
}

/** A command as a person would type it (for logs, errors and `render`). */
export function formatCommand(cmd: string, args: string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Records commands instead of running them; answers from a script (first matching prefix wins). */
export class RecordingRunner implements CommandRunner {
  readonly commands: Array<{ cmd: string; args: string[]; input?: string }> = [];
  constructor(private readonly answers: Array<{ prefix: string; result: Partial<CommandResult> }> = []) {}

  async run(cmd: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> {
    this.commands.push({ cmd, args, ...(options.input !== undefined ? { input: options.input } : {}) });
    const line = formatCommand(cmd, args);
    const answer = this.answers.find((a) => line.startsWith(a.prefix));
    return { stdout: '', stderr: '', exitCode: 0, ...(answer?.result ?? {}) };
  }

  lines(): string[] {
    return this.commands.map((c) => formatCommand(c.cmd, c.args));
  }
}
