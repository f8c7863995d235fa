/** Writes the file reports of a run: JSON (the RunResult itself), JUnit XML, HTML. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RunResult } from '../engine/types.js';
import { toHtml } from './html.js';
import { toJunit } from './junit.js';

export { ConsoleReporter, consoleOptionsFor, finalReport } from './console.js';
export { toHtml } from './html.js';
export { toJunit } from './junit.js';

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

/** Writes every requested report; returns the paths written. */
export async function writeReports(r: RunResult, files: ReportFiles): Promise<string[]> {
  const wanted: Array<[string | undefined, (r: RunResult) => string]> = [
    [files.json ?? (files.dir ? join(files.dir, 'report.json') : undefined), toJson],
    [files.junit ?? (files.dir ? join(files.dir, 'junit.xml') : undefined), toJunit],
    [files.html ?? (files.dir ? join(files.dir, 'report.html') : undefined), toHtml],
  ];
  const written: string[] = [];
  for (const [path, render] of wanted) {
    if (!path) continue;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, render(r));
    written.push(path);
  }
  return written;
}
