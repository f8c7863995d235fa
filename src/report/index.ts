/** Writes the file reports of a run: JSON (the RunResult itself), JUnit XML, HTML. */
import { join } from 'node:path';
import type { RunResult } from '../engine/types.js';
import { toHtml } from './html.js';
import { toJunit } from './junit.js';
import { checkOutputFiles, describeError, writeOutputFile, type OutputFile } from './files.js';

export { ConsoleReporter, consoleOptionsFor, finalReport } from './console.js';
export { toHtml } from './html.js';
export { toJunit } from './junit.js';
export { checkOutputFiles, describeError, makeDirs, resolveReal, writeOutputFile, type OutputFile } from './files.js';

export function toJson(r: RunResult): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export interface ReportFiles {
  json?: string;
  junit?: string;
  html?: string;
  /** Writes report.json, junit.xml and report.html here (each unless given explicitly above). */
  dir?: string;
}

const RENDER: Record<'json' | 'junit' | 'html', (r: RunResult) => string> = { json: toJson, junit: toJunit, html: toHtml };
const IN_DIR = { json: 'report.json', junit: 'junit.xml', html: 'report.html' } as const;

/** The report files requested, in order json, junit, html, each with the option that names it. */
export function reportOutputs(files: ReportFiles): Array<OutputFile & { kind: keyof typeof RENDER }> {
  const out: Array<OutputFile & { kind: keyof typeof RENDER }> = [];
  for (const kind of ['json', 'junit', 'html'] as const) {
    const given = files[kind];
    if (given) out.push({ kind, label: `--${kind}`, path: given });
    else if (files.dir) out.push({ kind, label: '--report-dir', path: join(files.dir, IN_DIR[kind]), noLink: true });
  }
  return out;
}

/**
 * Checks every report path before a run deploys anything: the directories can be made and written, nothing
 * there is a link planted in the report directory or a non-regular file, and no two reports share a file.
 */
export async function checkReports(files: ReportFiles): Promise<string[]> {
  const wanted = reportOutputs(files);
  const { problems } = await checkOutputFiles(wanted);
  const lines = wanted.flatMap((f, i) => {
    const p = problems[i];
    if (!p) return [];
    // One line for the report directory, not one per file in it.
    if (f.noLink && files.dir && /^(cannot create the directory|the directory)/.test(p)) return [`--report-dir ${files.dir}: ${p}`];
    return [`${f.label} ${f.path}: ${p}`];
  });
  return [...new Set(lines)];
}

/** Some reports could not be written; the others were (see `written`). */
export class ReportWriteError extends Error {
  constructor(
    readonly written: string[],
    readonly failed: Array<{ path: string; reason: string }>,
  ) {
    super(failed.map((f) => `${f.path}: ${f.reason}`).join('; '));
    this.name = 'ReportWriteError';
  }
}

/**
 * Writes every requested report; returns the paths written. Each is tried even when another fails (a full disk
 * for one file says nothing about the next); then a ReportWriteError names the failures and what was written.
 */
export async function writeReports(r: RunResult, files: ReportFiles): Promise<string[]> {
  const wanted = reportOutputs(files);
  const checked = await checkOutputFiles(wanted);
  const written: string[] = [];
  const failed: Array<{ path: string; reason: string }> = [];
  for (const [i, f] of wanted.entries()) {
    const problem = checked.problems[i];
    if (problem) {
      failed.push({ path: f.path, reason: problem });
      continue;
    }
    try {
      await writeOutputFile(checked.paths[i], RENDER[f.kind](r));
      written.push(f.path);
    } catch (err) {
      failed.push({ path: f.path, reason: describeError(err) });
    }
  }
  if (failed.length) throw new ReportWriteError(written, failed);
  return written;
}
