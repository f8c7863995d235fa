/**
 * `meshprobe list [paths…]` (default: the built-in suites): name, targets, tags, title and claim of every valid scenario.
 * Invalid documents are reported on stderr as by `validate`, and the exit status is then 2.
 */
import { formatError, loadScenarios, type LoadedScenario } from '../scenario/loader.js';
import { TARGETS } from '../scenario/schema.js';
import { defaultScenarioPaths, EXIT, type RegisterCommand } from './common.js';

export interface ListEntry {
  name: string;
  title: string | null;
  claim: string | null;
  source: string | null;
  tags: string[];
  /** targets that can run it (spec.when.targets, default all) */
  targets: string[];
  /** Istio version range it needs, if any */
  istio: string | null;
  file: string;
  line: number;
}

export function listEntry({ scenario, file, line }: LoadedScenario): ListEntry {
  const { metadata, spec } = scenario;
  return {
    name: metadata.name,
    title: metadata.title ?? null,
    claim: metadata.claim ?? null,
    source: metadata.source ?? null,
    tags: metadata.tags ?? [],
    targets: spec.when?.targets ?? [...TARGETS],
    istio: spec.when?.istio ?? null,
    file,
    line,
  };
}

export function formatList(entries: ListEntry[]): string {
  const lines: string[] = [];
  for (const e of entries) {
    const tags = e.tags.length > 0 ? `  tags: ${e.tags.join(', ')}` : '';
    const istio = e.istio ? `  istio ${e.istio}` : '';
    lines.push(`${e.name}  targets: ${e.targets.join(', ')}${istio}${tags}`);
    if (e.title) lines.push(`  ${e.title}`);
    if (e.claim) lines.push(`  claim: ${e.claim}`);
  }
  lines.push(`${entries.length} scenario${entries.length === 1 ? '' : 's'}`);
  return lines.join('\n') + '\n';
}

export async function listCommand(paths: string[], options: { json?: boolean }): Promise<number> {
  const result = await loadScenarios(paths.length > 0 ? paths : defaultScenarioPaths());
  const entries = result.scenarios.map(listEntry);
  process.stdout.write(options.json ? JSON.stringify(entries, null, 2) + '\n' : formatList(entries));
  for (const e of result.errors) process.stderr.write(`${formatError(e)}\n`);
  if (result.errors.length > 0) process.stderr.write('some scenarios are invalid; run `meshprobe validate` for details\n');
  return result.errors.length === 0 ? EXIT.ok : EXIT.invalid;
}

export const registerList: RegisterCommand = (program, setStatus) => {
  program
    .command('list')
    .description('list scenarios: name, targets that can run it, tags, title and claim')
    .argument('[paths...]', 'scenario files or directories (searched for *.yaml, *.yml; default: the built-in suites)')
    .option('--json', 'print the list as JSON')
    .action(async (paths: string[], options: { json?: boolean }) => setStatus(await listCommand(paths, options)));
};
