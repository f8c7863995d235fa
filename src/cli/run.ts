/**
 * `meshprobe run [paths…]`: a thin shell over the library's run(). Parses options, draws progress, writes the
 * reports, turns Ctrl-C into a clean abort (exit 130), and returns the run's exit status.
 */
import { PROBE_CLASSES, type ProbeTimeouts } from '../engine/timeouts.js';
import { type Command, Option } from 'commander';
import { DEFAULTS, run, type RunOptions } from '../engine/run.js';
import type { RunResult } from '../engine/types.js';
import { checkReports, ConsoleReporter, consoleOptionsFor, ReportWriteError, writeReports, type ReportFiles } from '../report/index.js';
import { TARGETS } from '../scenario/schema.js';
import type { Target, TargetName } from '../targets/target.js';
import { collect, defaultScenarioPaths, EXIT, parseCount, parseDuration, timeoutOption, type RegisterCommand } from './common.js';

export const DEFAULT_REPORT_DIR = 'meshprobe-reports';

export interface RunCommandOptions {
  target: TargetName;
  context?: string;
  kubeconfig?: string;
  profile?: string;
  image?: string;
  stockImage?: string;
  allowMeshChanges?: boolean;
  scenario?: string[];
  tag?: string[];
  parallel?: number;
  json?: string;
  junit?: string;
  html?: string;
  reportDir: string;
  keep?: boolean;
  failFast?: boolean;
  settleTimeout?: number;
  connectTimeout?: ProbeTimeouts;
  responseTimeout?: ProbeTimeouts;
  consecutive: number;
  verbose?: boolean;
}

export interface RunCommandDeps {
  /** A ready target instead of creating one by name (tests, library embedding). */
  target?: Target;
  load?: RunOptions['load'];
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

/** Runs the command: progress on stdout, reports written, returns the exit status. */
export async function runCommand(paths: string[], o: RunCommandOptions, deps: RunCommandDeps = {}): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const files: ReportFiles = { dir: o.reportDir };
  if (o.json) files.json = o.json;
  if (o.junit) files.junit = o.junit;
  if (o.html) files.html = o.html;
  const reporter = new ConsoleReporter(consoleOptionsFor(stdout, o.verbose ?? false));
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1;
    if (interrupts > 1) {
      stderr.write(`\nmeshprobe: ${signal} again: exiting without cleanup; the next run removes what this one left\n`);
      process.exit(EXIT.interrupted);
    }
    stderr.write(`\nmeshprobe: ${signal}: stopping probes and cleaning up (press Ctrl-C again to exit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: RunResult;
  try {
    // Before anything is deployed: a run whose reports cannot be written is refused, not discovered at the end.
    const unusable = await checkReports(files);
    if (unusable.length) {
      for (const u of unusable) stderr.write(`meshprobe run: ${u}\n`);
      stderr.write('meshprobe run: nothing was deployed; fix the report paths (--report-dir, --json, --junit, --html)\n');
      return EXIT.invalid;
    }
    result = await run({
      paths: paths.length > 0 ? paths : defaultScenarioPaths(),
      target: deps.target ?? o.target,
      targetOptions: {
        ...(o.context ? { context: o.context } : {}),
        ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
        ...(o.profile ? { profile: o.profile } : {}),
        ...(o.image ? { image: o.image } : {}),
        ...(o.stockImage ? { stockImage: o.stockImage } : {}),
        ...(o.allowMeshChanges ? { allowMeshChanges: true } : {}),
        verbose: o.verbose ?? false,
        log: (m) => reporter.onEvent({ kind: 'log', message: m }),
      },
      scenario: o.scenario ?? [],
      tag: o.tag ?? [],
      ...(o.parallel !== undefined ? { parallel: o.parallel } : {}),
      ...(o.settleTimeout !== undefined ? { settleTimeoutMs: o.settleTimeout } : {}),
      ...(o.connectTimeout || o.responseTimeout ? { timeouts: mergeTimeouts(o.connectTimeout, o.responseTimeout) } : {}),
      consecutive: o.consecutive,
      keep: o.keep ?? false,
      failFast: o.failFast ?? false,
      signal: controller.signal,
      onEvent: reporter.onEvent,
      ...(deps.load ? { load: deps.load } : {}),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return writeRunReports(result, files, stdout, stderr);
}

/** The two flags' values as one setting per probe class. */
function mergeTimeouts(connect: ProbeTimeouts = {}, response: ProbeTimeouts = {}): ProbeTimeouts {
  const out: ProbeTimeouts = {};
  for (const cls of PROBE_CLASSES) {
    const v = { ...connect[cls], ...response[cls] };
    if (Object.keys(v).length) out[cls] = v;
  }
  return out;
}

/**
 * Writes the reports; every one that can be written is. A report that could not be written makes the status 2
 * (130 stays 130): the run's result did not reach where it was asked to go.
 */
async function writeRunReports(result: RunResult, files: ReportFiles, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  try {
    const written = await writeReports(result, files);
    stdout.write(`reports: ${written.join(', ')}\n`);
  } catch (err) {
    const failed = err instanceof ReportWriteError ? err.failed : [{ path: 'reports', reason: (err as Error).message }];
    if (err instanceof ReportWriteError && err.written.length) stdout.write(`reports: ${err.written.join(', ')}\n`);
    for (const f of failed) stderr.write(`meshprobe: could not write the report ${f.path}: ${f.reason}\n`);
    return result.exitStatus === EXIT.interrupted ? EXIT.interrupted : EXIT.invalid;
  }
  return result.exitStatus;
}

export const registerRun: RegisterCommand = (program: Command, setStatus) => {
  program
    .command('run')
    .description(
      'deploy scenarios on a target, probe, and judge every claim (exit 0 all PASS/SKIPPED, 1 FAIL/FLAKY, 2 ERROR or invalid input, 130 interrupted)',
    )
    .argument('[paths...]', 'scenario files or directories (default: the built-in suites in scenarios/)')
    .addOption(new Option('--target <name>', 'where to run').choices([...TARGETS]).default('lab'))
    .option('--context <name>', 'kubeconfig context (required by --target existing)')
    .option('--kubeconfig <file>', 'kubeconfig file (existing; default $KUBECONFIG or ~/.kube/config)')
    .option('--profile <name>', 'cluster profile from clusters/ (kind; default: default)')
    .option(
      '--image <ref>',
      'probe image, for scenarios whose probes need ping, iptables or setpriv (existing: one the cluster can pull; kind: the tag to build and load)',
    )
    .option('--stock-image <ref>', 'stock Node image the agent is mounted into where the probes allow it (default node:22-slim)')
    .option('--allow-mesh-changes', 'existing: allow resources in istio-system and mesh-wide settings')
    .option('-s, --scenario <regex>', 'only scenarios whose name matches; a leading ! excludes; repeatable', collect)
    .option('-t, --tag <regex>', 'only scenarios with a matching tag; a leading ! excludes; repeatable', collect)
    .option('--parallel <n>', `scenarios deployed at the same time (default ${DEFAULTS.parallel})`, parseCount)
    .option('--json <file>', 'write the JSON report here')
    .option('--junit <file>', 'write the JUnit XML report here')
    .option('--html <file>', 'write the HTML report here')
    .option('--report-dir <dir>', 'write report.json, junit.xml and report.html here (unless given above)', DEFAULT_REPORT_DIR)
    .option('--keep', 'leave the deployments and the target up and print how to reach them')
    .option('--fail-fast', 'start no further scenario after one FAILs or ERRORs')
    .option(
      '--settle-timeout <duration>',
      `how long mismatching observations are retried while policy propagates (default ${DEFAULTS.settleTimeoutMs / 1000}s)`,
      parseDuration,
    )
    .option(
      '--connect-timeout <spec>',
      'how long a client waits for its TCP handshake: a duration (tcp and http) or class=duration pairs, e.g. http=5s,tcp=3s (default 2s)',
      timeoutOption('connectMs'),
    )
    .option(
      '--response-timeout <spec>',
      'how long a client waits for its answer, the connect included (udp, icmp: the reply): a duration or class=duration pairs over tcp, http, udp, icmp (default 5s; udp and icmp 2s)',
      timeoutOption('responseMs'),
    )
    .option('--consecutive <n>', 'identical observations in a row needed for a verdict', parseCount, DEFAULTS.consecutive)
    .option('--verbose', 'print every probe verdict and the evidence of failures')
    .action(async (paths: string[], options: RunCommandOptions) => {
      setStatus(await runCommand(paths, options));
    });
};
