/**
 * `meshprobe repro REPORT.json|SCENARIO.yaml --probe SCENARIO/PROBE [--out DIR] [--target T]`: a thin shell over
 * src/findings/repro.ts; `repro --hold SCENARIO.yaml` keeps a finding's scenario up on the lab for commands.sh. Exit 0 when the minimal scenario reproduces the original verdict, 1 when not, 2 bad input.
 */
import { type Command, Option } from 'commander';
import { repro } from '../findings/repro.js';
import { TARGETS } from '../scenario/schema.js';
import type { TargetName } from '../targets/target.js';
import { EXIT, parseDuration, type RegisterCommand } from './common.js';

export interface ReproCommandOptions {
  probe?: string;
  hold?: boolean;
  out?: string;
  target?: TargetName;
  settleTimeout?: number;
}

export async function reproCommand(
  input: string,
  o: ReproCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (o.hold) return (await import('../findings/hold.js')).holdLab(input, out, err);
  if (!o.probe) {
    err.write('meshprobe repro: --probe SCENARIO/PROBE is required (or --hold SCENARIO.yaml)\n');
    return EXIT.invalid;
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const r = await repro({
      input,
      probe: o.probe,
      signal: controller.signal,
      log: (l) => out.write(`${l}\n`),
      ...(o.out ? { out: o.out } : {}),
      ...(o.target ? { target: o.target } : {}),
      ...(o.settleTimeout !== undefined ? { settleTimeoutMs: o.settleTimeout } : {}),
    });
    for (const e of r.errors) err.write(`meshprobe repro: ${e}\n`);
    for (const f of r.files) out.write(`wrote ${f}\n`);
    if (r.original && r.reproduced !== undefined) {
      out.write(
        `${o.probe}: original ${r.original.verdict}, minimal scenario ${r.observed?.verdict ?? 'no verdict'}: ${r.reproduced ? 'reproduced' : 'NOT reproduced'}\n`,
      );
    }
    if (controller.signal.aborted) return EXIT.interrupted;
    return r.status;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export const registerRepro: RegisterCommand = (program: Command, setStatus) => {
  program
    .command('repro')
    .description('turn one probe of a report (or a scenario) into a finding: a minimal scenario verified on the target, finding.md and commands.sh')
    .argument('<input>', 'a JSON report (report.json) or a scenario file')
    .option('--probe <scenario/probe>', 'the probe to reproduce')
    .option('--hold', 'keep the given finding scenario deployed on the lab (agents and sidecars running) until interrupted, for commands.sh')
    .option('--out <dir>', 'where to write the finding (default meshprobe-findings/<scenario>-<probe>/)')
    .addOption(new Option('--target <name>', "where to run the minimal scenario (default: the report's target, or lab)").choices([...TARGETS]))
    .option('--settle-timeout <duration>', 'how long a probe may take to converge', parseDuration)
    .action(async (input: string, options: ReproCommandOptions) => {
      setStatus(await reproCommand(input, options));
    });
};
