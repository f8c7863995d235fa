/**
 * `meshprobe audit [paths…] | --workloads FILE --policies DIR`: for every destination a policy protects (in the
 * given scenarios, or the workloads file under the policies), try every bypass technique from every source,
 * predicted and — unless --predict-only — probed on the target; report what gets through. Exit 0 when the data
 * plane agrees with the predictions, 1 on a divergence (or, with --fail-on-bypass, any bypass), 2 on invalid input.
 */
import { type Command, Option } from 'commander';
import { auditFindings, planAudit, predictAudit, type AuditFinding, type AuditPlan } from '../predict/audit.js';
import { describePrediction, formatExplanation } from '../predict/expectation.js';
import { countStatus, type Matrix } from '../predict/matrix.js';
import { probeMatrix } from '../predict/probe.js';
import { flowText } from '../predict/render.js';
import { buildWorld, type WorldInput } from '../predict/world.js';
import { formatError, loadScenarios } from '../scenario/loader.js';
import type { Resource } from '../scenario/schema.js';
import { TARGETS } from '../scenario/schema.js';
import type { TargetName } from '../targets/target.js';
import { EXIT, loadInputs, outputsUsable, writeNamedOutputs, type RegisterCommand } from './common.js';

export interface AuditCommandOptions {
  workloads?: string;
  policies?: string;
  target: TargetName;
  predictOnly?: boolean;
  failOnBypass?: boolean;
  json?: string;
}

interface Subject {
  name: string;
  input: WorldInput;
  resources: readonly Resource[];
}

async function subjects(paths: string[], o: AuditCommandOptions): Promise<{ ok: true; value: Subject[] } | { ok: false; errors: string[] }> {
  if (o.workloads) {
    const loaded = await loadInputs(o.workloads, o.policies);
    return loaded.ok ? { ok: true, value: [{ name: 'audit', ...loaded.value }] } : loaded;
  }
  if (paths.length === 0) return { ok: false, errors: ['meshprobe audit: give scenario files or directories, or --workloads FILE [--policies DIR]'] };
  const loaded = await loadScenarios(paths);
  if (loaded.errors.length) return { ok: false, errors: loaded.errors.map(formatError) };
  return {
    ok: true,
    value: loaded.scenarios.map(({ scenario: s }) => ({
      name: `audit-${s.metadata.name}`.slice(0, 63).replace(/-+$/, ''),
      input: s.spec,
      resources: s.spec.resources,
    })),
  };
}

const through = (b: boolean | undefined) => (b === undefined ? 'not probed' : b ? 'got through' : 'blocked');

export function auditText(plan: AuditPlan, findings: readonly AuditFinding[]): string {
  const lines: string[] = [];
  for (const p of plan.protections) {
    const mine = findings.filter((f) => f.cell.flow.to === p.destination);
    const open = mine.filter((f) => f.predictedThrough || f.observedThrough);
    lines.push(`${p.destination} — protected by ${p.by.join('; ')}`);
    lines.push(`  ${mine.length} attempts, ${open.length} get through, ${mine.filter((f) => f.bypass).length} bypass the protection`);
    for (const f of open) {
      lines.push(
        `  ${f.bypass ? 'BYPASS' : 'through'} ${f.technique.padEnd(22)} ${flowText(f.cell)}${f.variant ? ` [${f.variant}]` : ''}: predicted ${describePrediction(f.cell.prediction)}; observed: ${through(f.observedThrough)}`,
      );
      if (f.bypass)
        lines.push(
          ...formatExplanation(f.cell.prediction)
            .split('\n')
            .map((l) => `      ${l}`),
        );
    }
  }
  if (plan.protections.length === 0) lines.push('no destination is protected by a policy: nothing to audit');
  return lines.join('\n');
}

async function auditOne(
  s: Subject,
  o: AuditCommandOptions,
  out: NodeJS.WritableStream,
): Promise<{ status: number; plan?: AuditPlan; matrix?: Matrix; findings?: AuditFinding[] }> {
  const built = buildWorld(s.input);
  if (built.errors.length) {
    out.write(`${s.name}: cannot model: ${built.errors.join('; ')}\n`);
    return { status: EXIT.invalid };
  }
  const plan = planAudit(built.world);
  let matrix = predictAudit(built.world, plan);
  let status: number = EXIT.ok;
  if (!o.predictOnly && plan.flows.length > 0) {
    const probed = await probeMatrix(s.input, s.resources, matrix, { target: o.target, name: s.name });
    if (probed.ok) matrix = probed.matrix;
    else out.write(`${s.name}: predicted only: ${probed.error}\n`);
  }
  const findings = auditFindings(plan, matrix);
  out.write(`== ${s.name}\n${auditText(plan, findings)}\n`);
  for (const n of matrix.notes) out.write(`note: ${n}\n`);
  const n = countStatus(matrix);
  if (n.diverge + n.flaky > 0) {
    out.write(`${n.diverge + n.flaky} attempts differ from the prediction:\n`);
    for (const c of matrix.cells.filter((c) => c.status === 'diverge' || c.status === 'flaky'))
      out.write(`  ! ${flowText(c)}: ${c.observed?.reason}\n`);
    status = EXIT.failed;
  }
  if (n.error > 0) status = EXIT.invalid;
  if (o.failOnBypass && findings.some((f) => f.bypass)) status = Math.max(status, EXIT.failed);
  return { status, plan, matrix, findings };
}

export async function auditCommand(
  paths: string[],
  o: AuditCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (!(await outputsUsable('audit', [{ option: '--json', path: o.json }], err))) return EXIT.invalid;
  const loaded = await subjects(paths, o);
  if (!loaded.ok) {
    for (const e of loaded.errors) err.write(`${e}\n`);
    return EXIT.invalid;
  }
  let status: number = EXIT.ok;
  const report: unknown[] = [];
  for (const s of loaded.value) {
    const r = await auditOne(s, o, out);
    status = Math.max(status, r.status);
    if (r.findings) {
      report.push({
        name: s.name,
        protections: r.plan?.protections,
        findings: r.findings.map((f) => ({
          technique: f.technique,
          ...(f.variant ? { variant: f.variant } : {}),
          flow: f.cell.flow,
          predictedThrough: f.predictedThrough,
          observedThrough: f.observedThrough,
          bypass: f.bypass,
          status: f.cell.status,
          explanation: f.cell.prediction.explanation,
          observed: f.cell.observed,
        })),
      });
    }
  }
  const wrote = await writeNamedOutputs(
    'audit',
    [{ option: '--json', path: o.json, text: () => `${JSON.stringify({ formatVersion: 1, audits: report }, null, 2)}\n` }],
    out,
    err,
  );
  return wrote ? status : 2;
}

export const registerAudit: RegisterCommand = (program: Command, setStatus) => {
  program
    .command('audit')
    .description(
      'try every bypass technique (plaintext, UDP, ICMP, uid 1337, NET_ADMIN flush, excluded ports, L7 request variants) against every protected destination; report what gets through',
    )
    .argument('[paths...]', 'scenario files or directories whose workloads and policies to audit')
    .option('--workloads <file>', 'audit these workloads instead of scenarios')
    .option('--policies <dir>', 'with --workloads: the manifests')
    .addOption(new Option('--target <name>', 'where to probe').choices([...TARGETS]).default('lab'))
    .option('--predict-only', 'only predict; deploy nothing')
    .option('--fail-on-bypass', 'exit 1 when any technique bypasses a protection')
    .option('--json <file>', 'write the findings as JSON')
    .action(async (paths: string[], options: AuditCommandOptions) => {
      setStatus(await auditCommand(paths, options));
    });
};
