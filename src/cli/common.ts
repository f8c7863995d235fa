/**
 * What every command shares, and the only module one command may take from another's side of src/cli: exit
 * statuses, the registration type, option parsers, the default scenario paths, the workloads/policies inputs of
 * the predictor's commands, and output that cannot crash a command.
 *
 * Output: a reader that goes away (`meshprobe run | head -1`: EPIPE), a full disk (`>/dev/full`: ENOSPC) or a dead
 * terminal (EIO) must not throw out of a write in the middle of a run: that skipped teardown and left the lab up.
 * Once a stream fails, further writes to it are dropped, the command runs on (reports, cleanup), and at the end one
 * line on stderr names what could not be written. EPIPE keeps the command's status (the reader chose to stop
 * reading, as with `git log | head`); any other write failure turns a status of 0 or 1 into 2, because output the
 * caller asked for was lost.
 */
import { PROBE_CLASSES, type ProbeClass, type ProbeTimeouts } from '../engine/timeouts.js';
import { relative, isAbsolute } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { BUILTIN_SCENARIOS } from '../engine/run.js';
import { loadPolicies, loadWorkloadsFile, worldInputOf } from '../predict/inputs.js';
import { checkOutputFiles, describeError, writeOutputFile, type OutputFile } from '../report/files.js';
import type { Resource } from '../scenario/schema.js';

/** The exit statuses of every command: all PASS · FAIL or FLAKY · ERROR or invalid input · interrupted. */
export const EXIT = { ok: 0, failed: 1, invalid: 2, interrupted: 130 } as const;

/** A command module's one export: it adds its subcommand to the program and reports its exit status. */
export type RegisterCommand = (program: Command, setStatus: (status: number) => void) => void;

/** "10s", "500ms", "2m", or a plain number of seconds → milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a duration such as 10s, 500ms or 2m');
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

/**
 * `--connect-timeout` / `--response-timeout`: a duration for every class the flag applies to, or `class=duration`
 * pairs separated by commas (`http=10s,tcp=3s`); repeatable, later values win. A connect timeout without a class is
 * for tcp and http (udp and icmp have no handshake).
 */
export function timeoutOption(kind: 'connectMs' | 'responseMs') {
  return (value: string, previous: ProbeTimeouts = {}): ProbeTimeouts => {
    const out: ProbeTimeouts = structuredClone(previous);
    const set = (cls: ProbeClass, ms: number) => {
      out[cls] = { ...out[cls], [kind]: ms };
    };
    const parts = value.split(',').map((s) => s.trim());
    for (const part of parts) {
      const eq = part.indexOf('=');
      if (eq < 0) {
        const ms = parseDuration(part);
        for (const cls of kind === 'connectMs' ? (['tcp', 'http'] as const) : PROBE_CLASSES) set(cls, ms);
        continue;
      }
      const cls = part.slice(0, eq).trim();
      if (!(PROBE_CLASSES as readonly string[]).includes(cls))
        throw new InvalidArgumentError(`unknown probe class ${JSON.stringify(cls)}: use ${PROBE_CLASSES.join(', ')}`);
      set(cls as ProbeClass, parseDuration(part.slice(eq + 1)));
    }
    return out;
  };
}

/** A whole number of at least 1. */
export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * The scenario paths of `validate`, `list` and `run` when none are given: the package's built-in suites, named
 * relative to the working directory when they are under it (`scenarios` from a checkout), absolute otherwise.
 */
export function defaultScenarioPaths(cwd: string = process.cwd()): string[] {
  const rel = relative(cwd, BUILTIN_SCENARIOS);
  return [rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : BUILTIN_SCENARIOS];
}

/** A workloads file and the manifests of a policies directory, read for the predictor. */
export interface Inputs {
  input: ReturnType<typeof worldInputOf>;
  resources: Resource[];
  /** The workloads file's `paths`: request targets every http cell is also probed with. */
  paths: string[];
}

/** Loads a workloads file and a policies directory; errors are printed by the caller. */
export async function loadInputs(
  workloads: string,
  policies: string | undefined,
): Promise<{ ok: true; value: Inputs } | { ok: false; errors: string[] }> {
  const [w, p] = await Promise.all([
    loadWorkloadsFile(workloads),
    policies ? loadPolicies(policies) : Promise.resolve({ ok: true as const, value: [] as Resource[] }),
  ]);
  const errors = [...(w.ok ? [] : w.errors), ...(p.ok ? [] : p.errors)];
  if (!w.ok || !p.ok) return { ok: false, errors };
  const { paths = [], ...workloadsOnly } = w.value;
  return { ok: true, value: { input: worldInputOf(workloadsOnly, p.value), resources: p.value, paths } };
}

export interface StreamFailure {
  stream: 'stdout' | 'stderr';
  error: NodeJS.ErrnoException;
}

const failures = new Map<NodeJS.WritableStream, StreamFailure>();
const guarded = new WeakSet<NodeJS.WritableStream>();

/** Guards a stream once per process; every later write to it goes through the guard. */
export function guardStream(stream: NodeJS.WritableStream, name: 'stdout' | 'stderr'): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  const record = (err: unknown) => {
    if (!failures.has(stream)) failures.set(stream, { stream: name, error: err as NodeJS.ErrnoException });
  };
  // Asynchronous failures (a pipe's EPIPE) arrive as 'error' events: unhandled, they end the process.
  stream.on('error', record);
  const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  const guardedWrite = (...args: unknown[]): boolean => {
    const failed = failures.get(stream);
    const callback = args.find((a): a is (err?: Error | null) => void => typeof a === 'function');
    if (failed) {
      if (callback) queueMicrotask(() => callback(failed.error));
      return true;
    }
    try {
      return original(...args);
    } catch (err) {
      // Files and /dev/full are written synchronously: their ENOSPC is thrown from write() itself.
      record(err);
      if (callback) queueMicrotask(() => callback(err as Error));
      return true;
    }
  };
  stream.write = guardedWrite as typeof stream.write;
}

export function guardStdio(): void {
  guardStream(process.stdout, 'stdout');
  guardStream(process.stderr, 'stderr');
}

export function streamFailures(): StreamFailure[] {
  return [...failures.values()];
}

/**
 * Names every failed stream on stderr (when stderr itself still works) and returns the exit status to use.
 * Waits one turn of the event loop first so that a pipe's last asynchronous error has been seen.
 */
export async function settleOutput(status: number): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  const all = streamFailures();
  if (all.length === 0) return status;
  const stderrBroken = all.some((f) => f.stream === 'stderr');
  for (const f of all) {
    if (f.stream === 'stdout' && !stderrBroken) {
      process.stderr.write(`meshprobe: could not write to stdout: ${describeError(f.error)}; the rest of the output was dropped\n`);
    }
  }
  const lost = all.some((f) => f.error.code !== 'EPIPE');
  return lost && (status === EXIT.ok || status === EXIT.failed) ? EXIT.invalid : status;
}

export interface NamedOutput {
  /** The option that names the file: "--json". */
  option: string;
  path: string | undefined;
}

const given = (files: readonly NamedOutput[]): OutputFile[] => files.flatMap((f) => (f.path ? [{ label: f.option, path: f.path }] : []));

/**
 * Checks the output files a command was given before it loads or deploys anything; prints one line per problem
 * and returns false when any file cannot be written (the command then exits 2).
 */
export async function outputsUsable(command: string, files: readonly NamedOutput[], err: NodeJS.WritableStream): Promise<boolean> {
  const { errors } = await checkOutputFiles(given(files));
  for (const e of errors) err.write(`meshprobe ${command}: ${e}\n`);
  if (errors.length) err.write(`meshprobe ${command}: nothing was done; fix the output paths\n`);
  return errors.length === 0;
}

/**
 * Writes each given output (rendered only when needed), every one that can be; prints "wrote …" for those and a
 * line on stderr for each that could not be written. Returns false when any failed (the command then exits 2).
 */
export async function writeNamedOutputs(
  command: string,
  files: ReadonlyArray<NamedOutput & { text: () => string }>,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<boolean> {
  const wanted = files.filter((f) => f.path);
  const checked = await checkOutputFiles(given(wanted));
  const written: string[] = [];
  let ok = true;
  for (const [i, f] of wanted.entries()) {
    try {
      if (checked.problems[i]) throw new Error(checked.problems[i]);
      await writeOutputFile(checked.paths[i], f.text());
      written.push(f.path as string);
    } catch (e) {
      ok = false;
      err.write(`meshprobe ${command}: could not write ${f.option} ${f.path}: ${checked.problems[i] ?? describeError(e)}\n`);
    }
  }
  if (written.length) out.write(`wrote ${written.join(', ')}\n`);
  return ok;
}
