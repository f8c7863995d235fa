/**
 * The console report: live progress while the run goes (a status line redrawn in place on a terminal; plain
 * lines in CI or when the output is not a TTY), then a final table and the reasons for everything not PASS.
 */
import type { RunEvent, ScenarioPhase } from '../engine/events.js';
import type { RunResult, ScenarioResult, Verdict } from '../engine/types.js';
import { describeProbePath, duration, evidenceText, probeLabel, targetLine } from './text.js';

export interface ConsoleOptions {
  write: (s: string) => void;
  /** Redraw a status line in place (TTY and not CI). */
  live: boolean;
  color: boolean;
  verbose: boolean;
}

const COLORS: Record<Verdict, string> = { PASS: '32', FAIL: '31', FLAKY: '33', ERROR: '35', SKIPPED: '90' };

export function consoleOptionsFor(stream: NodeJS.WriteStream, verbose: boolean, env: NodeJS.ProcessEnv = process.env): ConsoleOptions {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false';
  const tty = stream.isTTY === true;
  return { write: (s) => stream.write(s), live: tty && !ci, color: tty && !ci && env.NO_COLOR === undefined, verbose };
}

export class ConsoleReporter {
  private total = { scenarios: 0, probes: 0 };
  private done = { scenarios: 0, probes: 0 };
  private readonly counts: Record<Verdict, number> = { PASS: 0, FAIL: 0, FLAKY: 0, ERROR: 0, SKIPPED: 0 };
  private readonly running = new Map<string, ScenarioPhase>();
  private statusShown = false;

  constructor(private readonly o: ConsoleOptions) {}

  private paint(v: Verdict, text: string = v): string {
    return this.o.color ? `\x1b[${COLORS[v]}m${text}\x1b[0m` : text;
  }

  /** Writes lines above the live status line. */
  private line(s: string): void {
    if (this.statusShown) this.o.write('\r\x1b[K');
    this.statusShown = false;
    this.o.write(`${s}\n`);
    this.drawStatus();
  }

  private drawStatus(): void {
    if (!this.o.live || this.total.scenarios === 0) return;
    const verdicts = (Object.keys(this.counts) as Verdict[]).filter((v) => this.counts[v] > 0).map((v) => this.paint(v, `${v} ${this.counts[v]}`));
    const now = [...this.running.entries()].map(([n, p]) => `${n} (${p})`).join(', ');
    const status = `scenarios ${this.done.scenarios}/${this.total.scenarios} · probes ${this.done.probes}/${this.total.probes}${verdicts.length ? ` · ${verdicts.join(' ')}` : ''}${now ? ` · ${now}` : ''}`;
    const width = process.stdout.columns ?? 120;
    this.o.write(`\r\x1b[K${status.length > width + 40 ? status.slice(0, width + 30) : status}`);
    this.statusShown = true;
  }

  readonly onEvent = (e: RunEvent): void => {
    switch (e.kind) {
      case 'run-start':
        this.total = { scenarios: e.scenarios, probes: e.probes };
        this.line(`meshprobe: ${e.scenarios} scenarios, ${e.probes} probes on target ${e.target.name} (Istio ${e.target.istioVersion})`);
        for (const note of e.target.notes ?? []) this.line(`  note: ${note}`);
        break;
      case 'scenario-start':
        this.running.set(e.scenario, 'deploying');
        if (this.o.verbose && !this.o.live) this.line(`  start ${e.scenario} (${e.probes} probes)`);
        break;
      case 'scenario-phase':
        this.running.set(e.scenario, e.phase);
        if (this.o.verbose) this.line(`  ${e.scenario}: ${e.phase}`);
        this.drawStatus();
        break;
      case 'probe-done':
        this.done.probes += 1;
        this.counts[e.probe.verdict] += 1;
        if (this.o.verbose) this.line(`    ${this.paint(e.probe.verdict)} ${e.scenario}/${probeLabel(e.probe)}: ${e.probe.reason}`);
        else this.drawStatus();
        break;
      case 'scenario-done':
        this.scenarioDone(e.result);
        break;
      case 'log':
        if (this.o.verbose) this.line(`  ${e.message}`);
        break;
      case 'run-done':
        if (this.statusShown) this.o.write('\r\x1b[K');
        this.statusShown = false;
        this.o.write(finalReport(e.result, this.o));
        break;
    }
  };

  private scenarioDone(s: ScenarioResult): void {
    this.running.delete(s.name);
    this.done.scenarios += 1;
    // Probes that never ran (skipped, refused) are only counted here.
    const unrun = s.probes.filter((p) => p.attempts.length === 0);
    this.done.probes += unrun.length;
    for (const p of unrun) this.counts[p.verdict] += 1;
    const n = `[${this.done.scenarios}/${this.total.scenarios}]`;
    this.line(
      `${n} ${this.paint(s.verdict, s.verdict.padEnd(7))} ${s.name} (${s.probes.length} probes, ${duration(s.durationMs)})${s.verdict === 'PASS' || !s.reason ? '' : `: ${s.reason}`}`,
    );
  }
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** The final table, the reasons for everything not PASS, and the summary line. */
export function finalReport(r: RunResult, o: Pick<ConsoleOptions, 'color' | 'verbose'>): string {
  const paint = (v: Verdict, t: string) => (o.color ? `\x1b[${COLORS[v]}m${t}\x1b[0m` : t);
  const out: string[] = [];
  if (r.inputErrors.length) {
    out.push('invalid input (nothing was deployed):', ...r.inputErrors.map((e) => `  ${e}`), '');
  }
  if (r.scenarios.length) {
    const width = Math.max(8, ...r.scenarios.map((s) => s.name.length));
    out.push('', `${pad('SCENARIO', width)}  VERDICT  PASS FAIL FLAKY ERROR SKIP  TIME`);
    for (const s of r.scenarios) {
      const c = (v: Verdict) => String(s.probes.filter((p) => p.verdict === v).length);
      out.push(
        `${pad(s.name, width)}  ${paint(s.verdict, pad(s.verdict, 7))}  ${c('PASS').padStart(4)} ${c('FAIL').padStart(4)} ${c('FLAKY').padStart(5)} ${c('ERROR').padStart(5)} ${c('SKIPPED').padStart(4)}  ${duration(s.durationMs)}`,
      );
    }
  }
  const troubled = r.scenarios.flatMap((s) => s.probes.filter((p) => p.verdict !== 'PASS' && p.verdict !== 'SKIPPED').map((p) => ({ s, p })));
  if (troubled.length) {
    out.push('');
    for (const { s, p } of troubled) {
      out.push(`${paint(p.verdict, p.verdict)} ${s.name}/${probeLabel(p)}: ${describeProbePath(p)}`, `  ${p.reason}`);
      if (o.verbose)
        out.push(
          ...evidenceText(p)
            .split('\n')
            .map((l) => `    ${l}`),
        );
    }
  }
  for (const s of r.scenarios) for (const k of s.kept ?? []) out.push(`kept ${s.name}: ${k}`);
  const flags = r.scenarios.flatMap((s) => (s.features ?? []).map((f) => `${s.name}: ${f.resource} uses "${f.feature}" (${f.maturity})`));
  if (flags.length)
    out.push('', 'alpha/experimental features (weaker security guarantees; Istio recommends avoiding them):', ...flags.map((f) => `  ${f}`));
  if (r.istioRelease) out.push('', `release: ${r.istioRelease.text}`);
  const sc = r.summary.scenarios;
  const pr = r.summary.probes;
  const counts = (c: typeof sc) => (['PASS', 'FAIL', 'FLAKY', 'ERROR', 'SKIPPED'] as Verdict[]).map((v) => `${c[v]} ${v.toLowerCase()}`).join(', ');
  out.push(
    '',
    `${r.incomplete ? 'INCOMPLETE (interrupted): ' : ''}scenarios: ${counts(sc)}; probes: ${counts(pr)} — ${targetLine(r)}, ${duration(r.durationMs)}`,
  );
  return `${out.join('\n')}\n`;
}
