/**
 * `meshprobe validate [paths…]` (default: the built-in suites): checks every scenario document and prints one line per
 * document, then its errors as file:line:col: field: message. Exit 0 when everything is valid, 2 otherwise.
 * `--json` prints the same as one JSON object.
 */
import { formatError, loadScenarios, type LoadResult } from '../scenario/loader.js';
import { defaultScenarioPaths, EXIT, type RegisterCommand } from './common.js';

export interface ValidateReport {
  valid: boolean;
  documents: Array<{ file: string; doc: number; line: number; name: string | null; valid: boolean; errors: string[] }>;
  /** errors not tied to a document: a missing path, an unreadable or empty file */
  errors: string[];
}

export function validateReport(result: LoadResult): ValidateReport {
  const inDocuments = new Set(result.documents.flatMap((d) => d.errors));
  return {
    valid: result.errors.length === 0,
    documents: result.documents.map((d) => ({
      file: d.file,
      doc: d.doc,
      line: d.line,
      name: d.name ?? null,
      valid: d.errors.length === 0,
      errors: d.errors.map(formatError),
    })),
    errors: result.errors.filter((e) => !inDocuments.has(e)).map(formatError),
  };
}

export function formatValidateReport(report: ValidateReport): string {
  const lines: string[] = [];
  for (const d of report.documents) {
    const label = `${d.file}:${d.line}${d.name ? ` ${d.name}` : ''}`;
    if (d.valid) lines.push(`ok      ${label}`);
    else lines.push(`INVALID ${label} (${d.errors.length} error${d.errors.length === 1 ? '' : 's'})`, ...d.errors.map((e) => `  ${e}`));
  }
  lines.push(...report.errors.map((e) => `error   ${e}`));
  const invalid = report.documents.filter((d) => !d.valid).length;
  const summary = `${report.documents.length} scenario document${report.documents.length === 1 ? '' : 's'} checked, ${invalid} invalid`;
  lines.push(report.errors.length > 0 ? `${summary}, ${report.errors.length} path error${report.errors.length === 1 ? '' : 's'}` : summary);
  return lines.join('\n') + '\n';
}

export async function validateCommand(paths: string[], options: { json?: boolean }): Promise<number> {
  const report = validateReport(await loadScenarios(paths.length > 0 ? paths : defaultScenarioPaths()));
  process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : formatValidateReport(report));
  return report.valid ? EXIT.ok : EXIT.invalid;
}

export const registerValidate: RegisterCommand = (program, setStatus) => {
  program
    .command('validate')
    .description('check scenario files: YAML, schema, cross-field rules and the policies they apply')
    .argument('[paths...]', 'scenario files or directories (searched for *.yaml, *.yml; default: the built-in suites)')
    .option('--json', 'print the result as JSON')
    .action(async (paths: string[], options: { json?: boolean }) => setStatus(await validateCommand(paths, options)));
};
