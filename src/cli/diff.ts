/**
 * `meshprobe diff --before DIR --after DIR [--workloads FILE] [--probe] [--markdown F]`: the flows a policy change
 * opens, closes or changes, predicted for both policy sets (and, with --probe, observed on a target for both).
 * Markdown output is meant for a pull-request comment. Without --workloads, a workloads.yaml in the after (or
 * before) directory is used. Exit 0 always on success (a diff is information, not a verdict); 2 invalid input;
 * 1 when --probe finds a divergence on either side.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { diffMarkdown, diffMatrices, diffText } from '../predict/diff.js';
import { countStatus, matrixFlows, predictMatrix, type Matrix } from '../predict/matrix.js';
import { probeMatrix } from '../predict/probe.js';
import { divergenceReport } from '../predict/render.js';
import { buildWorld, type WorldInput } from '../predict/world.js';
import type { Resource } from '../scenario/schema.js';
import { twoStepScenario } from '../findings/two-step.js';
import { stringify } from 'yaml';
import { TARGETS } from '../scenario/schema.js';
import type { TargetName } from '../targets/target.js';
import { EXIT, loadInputs, outputsUsable, writeNamedOutputs, type RegisterCommand } from './common.js';

export interface DiffCommandOptions {
  before: string;
  after: string;
  workloads?: string;
  probe?: boolean;
  target: TargetName;
  markdown?: string;
  /** Write the before/after pair as a two-step scenario (steps `before` and `after`). */
  emitScenario?: string;
}

function defaultWorkloads(o: DiffCommandOptions): string | undefined {
  for (const dir of [o.after, o.before]) {
    for (const name of ['workloads.yaml', 'workloads.yml']) if (existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

type Side = { ok: true; matrix: Matrix; input: WorldInput; resources: readonly Resource[] } | { ok: false; errors: string[] };

async function side(label: string, workloads: string, policies: string, o: DiffCommandOptions): Promise<Side> {
  const loaded = await loadInputs(workloads, policies);
  if (!loaded.ok) return { ok: false, errors: loaded.errors };
  const built = buildWorld(loaded.value.input);
  if (built.errors.length) return { ok: false, errors: built.errors.map((e) => `${label}: ${e}`) };
  const predicted = predictMatrix(built.world, matrixFlows(built.world, undefined, loaded.value.paths));
  const sides = { input: loaded.value.input, resources: loaded.value.resources };
  if (!o.probe) return { ok: true, matrix: predicted, ...sides };
  const probed = await probeMatrix(loaded.value.input, loaded.value.resources, predicted, { target: o.target, name: `diff-${label}` });
  return probed.ok ? { ok: true, matrix: probed.matrix, ...sides } : { ok: false, errors: [`${label}: ${probed.error}`] };
}

export async function diffCommand(
  o: DiffCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (
    !(await outputsUsable(
      'diff',
      [
        { option: '--markdown', path: o.markdown },
        { option: '--emit-scenario', path: o.emitScenario },
      ],
      err,
    ))
  )
    return EXIT.invalid;
  const workloads = o.workloads ?? defaultWorkloads(o);
  if (!workloads) {
    err.write(`meshprobe diff: no --workloads given and no workloads.yaml in ${o.after} or ${o.before}\n`);
    return EXIT.invalid;
  }
  const before = await side('before', workloads, o.before, o);
  const after = before.ok ? await side('after', workloads, o.after, o) : before;
  if (!before.ok || !after.ok) {
    for (const e of [...(before.ok ? [] : before.errors), ...(after.ok || !before.ok ? [] : after.errors)]) err.write(`${e}\n`);
    return EXIT.invalid;
  }
  const d = diffMatrices(before.matrix, after.matrix);
  out.write(`${diffText(d)}\n`);
  let scenario: string | undefined;
  if (o.emitScenario) {
    const s = twoStepScenario(
      'policy-change',
      after.input,
      { before: before.resources, after: after.resources },
      { before: before.matrix, after: after.matrix },
      d.changes,
    );
    if (typeof s === 'string') {
      err.write(`meshprobe diff: --emit-scenario: ${s}\n`);
      return EXIT.invalid;
    }
    scenario = `# meshprobe diff --emit-scenario: the change as two steps\n${stringify(s)}`;
  }
  const wrote = await writeNamedOutputs(
    'diff',
    [
      { option: '--markdown', path: o.markdown, text: () => diffMarkdown(d) },
      { option: '--emit-scenario', path: o.emitScenario, text: () => scenario ?? '' },
    ],
    out,
    err,
  );
  if (!wrote) return EXIT.invalid;
  if (!o.probe) return EXIT.ok;
  let status: number = EXIT.ok;
  for (const [label, m] of [
    ['before', before.matrix],
    ['after', after.matrix],
  ] as const) {
    const n = countStatus(m);
    if (n.diverge + n.flaky + n.error > 0) {
      out.write(`\n${label}: observation differs from prediction:\n${divergenceReport(m)}\n`);
      status = n.error > 0 ? EXIT.invalid : Math.max(status, EXIT.failed);
    }
  }
  return status;
}

export const registerDiff: RegisterCommand = (program: Command, setStatus) => {
  program
    .command('diff')
    .description('the flows a policy change opens, closes or changes (predicted; observed too with --probe); Markdown for a pull request')
    .requiredOption('--before <dir>', 'manifests before the change')
    .requiredOption('--after <dir>', 'manifests after the change')
    .option('--workloads <file>', 'namespaces, workloads and externals (default: workloads.yaml in --after or --before)')
    .option('--probe', 'also deploy and probe both policy sets on the target')
    .addOption(new Option('--target <name>', 'where to probe').choices([...TARGETS]).default('lab'))
    .option('--markdown <file>', 'write the diff as Markdown (a pull-request comment)')
    .option('--emit-scenario <file>', 'write a two-step scenario (before, after) that checks the changed flows on a target')
    .action(async (options: DiffCommandOptions) => {
      setStatus(await diffCommand(options));
    });
};
