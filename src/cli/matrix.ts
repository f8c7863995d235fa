/**
 * `meshprobe matrix --policies DIR --workloads FILE`: predict every flow between the declared workloads, probe
 * them on a target (unless --predict-only), print the truth table and every divergence with the prediction's
 * explanation; write JSON/HTML on request. Exit 0: no divergence; 1: divergences; 2: invalid input or ERROR.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { buildWorld } from '../predict/world.js';
import { countStatus, matrixFlows, MATRIX_PROTOCOLS, predictMatrix, DEFAULT_MATRIX_PROTOCOLS, type Matrix } from '../predict/matrix.js';
import type { ProbeProtocolName } from '../predict/names.js';
import { probeMatrix } from '../predict/probe.js';
import { divergenceReport, matrixHtml, matrixJson, summaryLine, truthTable } from '../predict/render.js';
import { TARGETS } from '../scenario/schema.js';
import type { TargetName } from '../targets/target.js';
import { EXIT, loadInputs, outputsUsable, parseCount, parseDuration, writeNamedOutputs, type RegisterCommand } from './common.js';

export interface MatrixCommandOptions {
  policies?: string;
  workloads: string;
  target: TargetName;
  protocols?: ProbeProtocolName[];
  predictOnly?: boolean;
  json?: string;
  html?: string;
  consecutive?: number;
  settleTimeout?: number;
}

export function parseProtocols(value: string): ProbeProtocolName[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((p) => !(MATRIX_PROTOCOLS as readonly string[]).includes(p));
  if (bad.length || list.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${MATRIX_PROTOCOLS.join(', ')}`);
  return list as ProbeProtocolName[];
}

/** Writes --json and --html (each that can be); false when one could not be written. */
export async function writeOutputs(
  matrix: Matrix,
  o: { json?: string; html?: string },
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  return writeNamedOutputs(
    'matrix',
    [
      { option: '--json', path: o.json, text: () => matrixJson(matrix, extra) },
      { option: '--html', path: o.html, text: () => matrixHtml(matrix) },
    ],
    out,
    err,
  );
}

export async function matrixCommand(
  o: MatrixCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (
    !(await outputsUsable(
      'matrix',
      [
        { option: '--json', path: o.json },
        { option: '--html', path: o.html },
      ],
      err,
    ))
  )
    return EXIT.invalid;
  const loaded = await loadInputs(o.workloads, o.policies);
  if (!loaded.ok) {
    for (const e of loaded.errors) err.write(`${e}\n`);
    return EXIT.invalid;
  }
  const { input, resources, paths } = loaded.value;
  const built = buildWorld(input);
  if (built.errors.length) {
    for (const e of built.errors) err.write(`meshprobe matrix: ${e}\n`);
    return EXIT.invalid;
  }
  const predicted = predictMatrix(built.world, matrixFlows(built.world, o.protocols ?? DEFAULT_MATRIX_PROTOCOLS, paths));
  let matrix = predicted;
  const started = Date.now();
  if (!o.predictOnly) {
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    try {
      const probed = await probeMatrix(input, resources, predicted, {
        target: o.target,
        signal: controller.signal,
        ...(o.consecutive !== undefined ? { consecutive: o.consecutive } : {}),
        ...(o.settleTimeout !== undefined ? { settleTimeoutMs: o.settleTimeout } : {}),
      });
      if (!probed.ok) {
        err.write(`meshprobe matrix: ${probed.error}\n`);
        return EXIT.invalid;
      }
      matrix = probed.matrix;
    } finally {
      process.off('SIGINT', onSignal);
    }
  }
  out.write(`${truthTable(matrix)}\n\n`);
  for (const n of matrix.notes) out.write(`note: ${n}\n`);
  out.write(`${summaryLine(matrix)}${o.predictOnly ? '' : ` in ${((Date.now() - started) / 1000).toFixed(1)} s`}\n`);
  if (!o.predictOnly) out.write(`${divergenceReport(matrix)}\n`);
  const wrote = await writeOutputs(matrix, o, out, err, { target: o.predictOnly ? null : o.target });
  const n = countStatus(matrix);
  return n.error > 0 || !wrote ? EXIT.invalid : n.diverge + n.flaky > 0 ? EXIT.failed : EXIT.ok;
}

export const registerMatrix: RegisterCommand = (program: Command, setStatus) => {
  program
    .command('matrix')
    .description(
      'predict and probe every flow between declared workloads; print a truth table marking where observation and prediction differ (exit 0 none, 1 divergences, 2 invalid input or error)',
    )
    .requiredOption('--workloads <file>', 'namespaces, workloads and externals (a scenario spec without probes and resources)')
    .option(
      '--policies <dir>',
      'directory (or file) of manifests: NetworkPolicy, PeerAuthentication, AuthorizationPolicy, Sidecar, ServiceEntry, DestinationRule',
    )
    .addOption(new Option('--target <name>', 'where to probe').choices([...TARGETS]).default('lab'))
    .option('--protocols <list>', `probe protocols (default ${DEFAULT_MATRIX_PROTOCOLS.join(',')}; add icmp for one ping per pair)`, parseProtocols)
    .option('--predict-only', 'only predict; deploy nothing')
    .option('--json <file>', 'write the matrix as JSON')
    .option('--html <file>', 'write the truth table as a self-contained HTML page')
    .option('--consecutive <n>', 'identical observations needed per probe (default 1)', parseCount)
    .option('--settle-timeout <duration>', 'retry mismatches this long before judging (default 0)', parseDuration)
    .action(async (options: MatrixCommandOptions) => {
      setStatus(await matrixCommand(options));
    });
};
