/**
 * `repro`: turns one probe of a run (a JSON report, or a scenario file run here first) into a finding — a minimal
 * scenario that still shows the behaviour, checked by running it on the target; finding.md with the evidence; and
 * commands.sh to reproduce it by hand. Status 0 when the minimal scenario gives the original verdict (and its
 * positive control passes), 1 when it does not, 2 on bad input.
 */
import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { run } from '../engine/run.js';
import type { ProbeJudgement, RunResult } from '../engine/types.js';
import { formatError, loadScenarios } from '../scenario/loader.js';
import type { Scenario } from '../scenario/schema.js';
import type { TargetOptions } from '../targets/index.js';
import { TARGETS } from '../scenario/schema.js';
import type { Target, TargetName } from '../targets/target.js';
import { commandsScript } from './commands.js';
import { findingMarkdown } from './markdown.js';
import { minimalName, minimize, sizeOf } from './minimize.js';
import { OutputError, prepareDir, writeInside } from './output.js';

export interface ReproOptions {
  /** A JSON report (`*.json`) or a scenario file. */
  readonly input: string;
  /** `SCENARIO/PROBE`. */
  readonly probe: string;
  readonly out?: string;
  /** Default: the report's target, or lab. */
  readonly target?: TargetName | Target;
  readonly targetOptions?: TargetOptions;
  readonly settleTimeoutMs?: number;
  readonly consecutive?: number;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface ReproResult {
  readonly status: 0 | 1 | 2;
  readonly errors: readonly string[];
  readonly dir?: string;
  readonly files: readonly string[];
  readonly minimal?: Scenario;
  readonly originalSize?: number;
  readonly reproduced?: boolean;
  readonly original?: ProbeJudgement;
  readonly observed?: ProbeJudgement;
}

interface Original {
  scenario: Scenario;
  judgement: ProbeJudgement;
  target: RunResult['target'];
  source: string;
}

const bad = (...errors: string[]): ReproResult => ({ status: 2, errors, files: [] });

async function loadOne(file: string, name: string): Promise<Scenario | string> {
  const loaded = await loadScenarios([file]);
  const found = loaded.scenarios.find((l) => l.scenario.metadata.name === name);
  if (found) return found.scenario;
  if (loaded.errors.length) return loaded.errors.map(formatError).join('\n');
  return `${file}: no scenario named "${name}" (found: ${loaded.scenarios.map((l) => l.scenario.metadata.name).join(', ') || 'none'})`;
}

function isReport(v: unknown): v is RunResult {
  const r = v as RunResult;
  return (
    typeof v === 'object' && v !== null && r.formatVersion === 1 && Array.isArray(r.scenarios) && typeof r.target === 'object' && r.target !== null
  );
}

/** The probe as judged in a report; the scenario itself is reloaded (and so revalidated) from where the report says. */
async function fromReport(path: string, scenarioName: string, probeName: string): Promise<Original | string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    return `${path}: not a readable JSON report (${(err as Error).message})`;
  }
  if (!isReport(parsed)) return `${path}: not a meshprobe JSON report (formatVersion 1 with scenarios and target)`;
  const sr = parsed.scenarios.find((s) => s?.name === scenarioName);
  if (!sr) return `${path}: no scenario "${scenarioName}" in the report (has: ${parsed.scenarios.map((s) => s?.name).join(', ')})`;
  const judgement = Array.isArray(sr.probes) ? sr.probes.find((p) => p?.name === probeName) : undefined;
  if (!judgement) return `${path}: scenario "${scenarioName}" has no probe "${probeName}" in the report`;
  const m = typeof sr.location === 'string' ? /^(.+\.ya?ml):\d+$/i.exec(sr.location) : null;
  if (!m) return `${path}: scenario "${scenarioName}" has no location (file.yaml:line) to reload it from; give the scenario file instead`;
  const scenario = await loadOne(m[1], scenarioName);
  if (typeof scenario === 'string') return scenario;
  return { scenario, judgement, target: parsed.target, source: `${path}, ${sr.location}` };
}

async function runScenario(file: string, name: string, o: ReproOptions, target: TargetName | Target): Promise<RunResult> {
  return run({
    paths: [file],
    scenario: [`^${name}$`],
    target,
    parallel: 1,
    ...(o.targetOptions ? { targetOptions: o.targetOptions } : {}),
    ...(o.settleTimeoutMs !== undefined ? { settleTimeoutMs: o.settleTimeoutMs } : {}),
    ...(o.consecutive !== undefined ? { consecutive: o.consecutive } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

function judgementIn(r: RunResult, scenario: string, probe: string): ProbeJudgement | undefined {
  return r.scenarios.find((s) => s.name === scenario)?.probes.find((p) => p.name === probe);
}

async function original(o: ReproOptions, scenarioName: string, probeName: string): Promise<Original | string> {
  if (/\.json$/i.test(o.input)) return fromReport(o.input, scenarioName, probeName);
  const scenario = await loadOne(o.input, scenarioName);
  if (typeof scenario === 'string') return scenario;
  if (!scenario.spec.probes.some((p) => p.name === probeName)) return `${o.input}: scenario "${scenarioName}" has no probe "${probeName}"`;
  o.log?.(`running ${scenarioName} to observe ${probeName} …`);
  const r = await runScenario(o.input, scenarioName, o, o.target ?? 'lab');
  const judgement = judgementIn(r, scenarioName, probeName);
  if (r.inputErrors.length || !judgement) return r.inputErrors.join('\n') || `the run of ${scenarioName} judged no probe ${probeName}`;
  return { scenario, judgement, target: r.target, source: o.input };
}

/** Same verdict, and the same reach when both runs observed something (a FAIL for another reason is not the finding). */
function sameVerdict(a: ProbeJudgement, b: ProbeJudgement | undefined): boolean {
  if (!b || a.verdict !== b.verdict) return false;
  return !(a.observed && b.observed) || a.observed.reach === b.observed.reach;
}

export async function repro(o: ReproOptions): Promise<ReproResult> {
  const m = /^([a-z0-9-]{1,63})\/([a-z0-9-]{1,63})$/.exec(o.probe);
  if (!m) return bad(`--probe ${JSON.stringify(o.probe)}: expected SCENARIO/PROBE (the scenario's and the probe's names)`);
  const [, scenarioName, probeName] = m;
  const orig = await original(o, scenarioName, probeName);
  if (typeof orig === 'string') return bad(orig);
  let min: ReturnType<typeof minimize>;
  try {
    min = minimize(orig.scenario, probeName);
  } catch (err) {
    return bad((err as Error).message);
  }
  let dir: string;
  const files: string[] = [];
  try {
    dir = prepareDir(o.out ?? `meshprobe-findings/${minimalName(scenarioName, probeName)}`);
    files.push(
      writeInside(dir, 'scenario.yaml', `# Minimal scenario for ${scenarioName}/${probeName} (meshprobe repro)\n${stringify(min.scenario)}`),
    );
  } catch (err) {
    if (err instanceof OutputError) return bad(err.message);
    throw err;
  }
  const check = await loadScenarios([files[0]]);
  if (check.errors.length) return { ...bad(...check.errors.map(formatError)), files, dir };
  const target = o.target ?? ((TARGETS as readonly string[]).includes(orig.target.name) ? orig.target.name : 'lab');
  o.log?.(`running the minimal scenario ${min.scenario.metadata.name} …`);
  const r = await runScenario(files[0], min.scenario.metadata.name, o, target);
  const observed = judgementIn(r, min.scenario.metadata.name, probeName);
  const control = min.control.name === probeName ? undefined : judgementIn(r, min.scenario.metadata.name, min.control.name);
  const controlOk = min.control.name === probeName || control?.verdict === 'PASS';
  const reproduced = sameVerdict(orig.judgement, observed) && controlOk;
  const error = r.inputErrors.join('; ') || r.scenarios.find((s) => s.name === min.scenario.metadata.name)?.reason;
  const nonce = `repro-${probeName}-1`.slice(0, 60);
  files.push(
    writeInside(
      dir,
      'finding.md',
      findingMarkdown({
        original: orig,
        minimal: {
          scenario: min.scenario,
          ...(observed ? { judgement: observed } : {}),
          ...(control ? { control } : {}),
          target: r.target,
          ...(error && !observed ? { error } : {}),
        },
        ...(min.prediction ? { prediction: min.prediction } : {}),
        notes: min.notes,
        reproduced,
      }),
    ),
    writeInside(dir, 'commands.sh', commandsScript(min.scenario, min.probe, nonce), 0o755),
  );
  return {
    status: reproduced ? 0 : 1,
    errors: [],
    dir,
    files,
    minimal: min.scenario,
    originalSize: sizeOf(orig.scenario),
    reproduced,
    original: orig.judgement,
    ...(observed ? { observed } : {}),
  };
}
