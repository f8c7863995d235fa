/**
 * Loads scenario files: YAML (multi-document), directories searched recursively for *.yaml / *.yml.
 *
 *   loadScenarios(paths) → Promise<LoadResult>
 *     .scenarios  every valid scenario, with the file and line it came from
 *     .documents  one entry per document checked (valid or not), for "one line per scenario" output
 *     .errors     every error, as LoadError; formatError(e) → "file.yaml:LINE:COL: field.path: what is wrong"
 *
 * Most files are valid, so a file is first read with js-yaml (several times faster, no positions); only a file
 * with any error, or one whose documents js-yaml and the position-keeping parser might count differently, is
 * read again with the `yaml` package to place every error at its line and column.
 *
 * A document is checked in three layers, and all errors of all layers are reported, not only the first:
 * YAML syntax (then nothing else for that document), the zod schema plus the kind schemas of its `resources`,
 * and — when the schema holds — the cross-field rules of rules.ts. Scenario names must be unique across
 * everything loaded in one call.
 */
import { CORE_SCHEMA, loadAll } from 'js-yaml';
import { isScalar, LineCounter, parseAllDocuments, visit, type Document, type YAMLError } from 'yaml';
import { formatPath, locate, type PathSegment } from './positions.js';
import { validateResource } from './resources.js';
import { checkRules } from './rules.js';
import { scenario as scenarioSchema, type Scenario } from './schema.js';
import { findYamlFiles, isFileProblem, readSource, type FileProblem } from './source.js';
import { guardDocument, withinLimits } from './yaml-guard.js';
import { fromZodIssue } from './zod-issues.js';

export interface LoadedScenario {
  scenario: Scenario;
  file: string;
  /** index of the YAML document in its file, from 0 */
  doc: number;
  /** line where the document starts, from 1 */
  line: number;
}

export interface LoadError {
  file: string;
  /** 0 when the error is about the file as a whole (missing, unreadable) */
  line: number;
  col: number;
  /** field path inside the document, e.g. spec.probes[0].expect.reach; '' for YAML syntax and file errors */
  path: string;
  message: string;
}

export interface CheckedDocument {
  file: string;
  doc: number;
  line: number;
  /** metadata.name when the document has one */
  name?: string;
  errors: LoadError[];
}

export interface LoadResult {
  scenarios: LoadedScenario[];
  documents: CheckedDocument[];
  errors: LoadError[];
}

export function formatError(e: LoadError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.col}` : e.file;
  return e.path ? `${where}: ${e.path}: ${e.message}` : `${where}: ${e.message}`;
}

const YAML_FILE = /\.ya?ml$/i;

export async function loadScenarios(paths: string[]): Promise<LoadResult> {
  const result: LoadResult = { scenarios: [], documents: [], errors: [] };
  const names = new Map<string, () => LoadError>();
  const files: string[] = [];
  for (const p of paths) files.push(...(await expand(p, result.errors)));
  // Read everything at once so the disk works while the CPU parses; parse in order for stable output.
  const texts = await Promise.all(files.map(readSource));
  for (const [i, file] of files.entries()) {
    for (const checked of await checkFile(file, texts[i], result.errors)) {
      const doc = checked.document;
      if (checked.nameAt) claimName(checked.nameAt, doc, names);
      doc.errors.sort((a, b) => a.line - b.line || a.col - b.col);
      result.documents.push(doc);
      // A loop, not push(...errors): tens of thousands of arguments overflow the stack.
      for (const e of doc.errors) result.errors.push(e);
      if (checked.scenario && doc.errors.length === 0) {
        result.scenarios.push({ scenario: checked.scenario, file, doc: doc.doc, line: doc.line });
      }
    }
  }
  return result;
}

/** Second and later uses of a scenario name are errors that point back at the first. */
function claimName(at: () => LoadError, doc: CheckedDocument, names: Map<string, () => LoadError>): void {
  const name = doc.name ?? '';
  const first = names.get(name);
  if (!first) {
    names.set(name, at);
    return;
  }
  const f = first();
  doc.errors.push({ ...at(), message: `duplicate scenario name "${name}": also used at ${f.file}:${f.line}:${f.col}` });
}

const fileError = (p: FileProblem): LoadError => ({ ...p, path: '' });

async function expand(path: string, errors: LoadError[]): Promise<string[]> {
  const problems: FileProblem[] = [];
  const found = await findYamlFiles(path, problems, (name) => YAML_FILE.test(name));
  for (const p of problems) errors.push(fileError(p));
  if (found.length === 0 && problems.length === 0)
    errors.push({ file: path, line: 0, col: 0, path: '', message: 'no scenario files (*.yaml, *.yml) in this directory' });
  return found;
}

interface CheckedYamlDocument {
  document: CheckedDocument;
  scenario?: Scenario;
  /** where metadata.name is, for duplicate-name errors (computed only when needed) */
  nameAt?: () => LoadError;
}

async function checkFile(file: string, text: string | FileProblem, errors: LoadError[]): Promise<CheckedYamlDocument[]> {
  if (isFileProblem(text)) {
    errors.push(fileError(text));
    return [];
  }
  try {
    return (await fastCheck(file, text)) ?? (await checkWithPositions(file, text, errors));
  } catch (err) {
    // Last line of defence: whatever a hostile file triggers stays an error about that file.
    errors.push({ file, line: 0, col: 0, path: '', message: `cannot be checked: ${(err as Error).message ?? String(err)}` });
    return [];
  }
}

async function checkWithPositions(file: string, text: string, errors: LoadError[]): Promise<CheckedYamlDocument[]> {
  const lineCounter = new LineCounter();
  // Duplicate keys are found by guardDocument, in linear time.
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (!Array.isArray(docs) || docs.every(isEmpty)) {
    errors.push({ file, line: 0, col: 0, path: '', message: 'contains no YAML document' });
    return [];
  }
  const out: CheckedYamlDocument[] = [];
  for (const [index, doc] of docs.entries()) {
    if (isEmpty(doc)) continue; // e.g. a trailing "---"
    out.push(await checkDocument(file, index, doc, lineCounter));
  }
  return out;
}

async function checkDocument(file: string, index: number, doc: Document, lineCounter: LineCounter): Promise<CheckedYamlDocument> {
  const docStart = lineCounter.linePos(doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0);
  const document: CheckedDocument = { file, doc: index, line: docStart.line, errors: [] };
  const errorAt = (path: PathSegment[], at: 'key' | 'value', message: string): LoadError => {
    const { line, col } = locate(doc, lineCounter, path, at);
    return { file, line, col, path: formatPath(path), message };
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const { line, col } = lineCounter.linePos(errorOffset(doc, e));
      document.errors.push({ file, line, col, path: '', message: yamlMessage(e.message) });
    }
    return { document };
  }
  const guard = guardDocument(doc);
  if (guard.length > 0) {
    for (const g of guard) document.errors.push({ file, ...lineCounter.linePos(g.offset), path: '', message: g.message });
    return { document };
  }
  // guardDocument has bounded what the aliases expand to; yaml's own alias counter would refuse honest files.
  const data: unknown = doc.toJS({ maxAliasCount: -1 });
  const name = nameOf(data);
  if (name !== undefined) document.name = name;
  const parsed = scenarioSchema.safeParse(data);
  const fieldIssues = parsed.success ? [] : parsed.error.issues.flatMap((i) => fromZodIssue(i, data, scenarioSchema));
  fieldIssues.push(...(await resourceIssues(data)));
  if (parsed.success) fieldIssues.push(...checkRules(parsed.data).map((r) => ({ ...r, at: r.at ?? ('value' as const) })));
  document.errors = fieldIssues.map((i) => errorAt(i.path, i.at, i.message));
  return {
    document,
    scenario: parsed.success ? parsed.data : undefined,
    nameAt: name !== undefined ? () => errorAt(['metadata', 'name'], 'value', '') : undefined,
  };
}

/**
 * The fast path: every document of the file parses with js-yaml (YAML 1.2 core schema, like the `yaml` package's
 * default) and passes every check. Anything else — a syntax error, an issue, a document count that differs from
 * the `---` markers — returns undefined and the file is read again with positions.
 */
async function fastCheck(file: string, text: string): Promise<CheckedYamlDocument[] | undefined> {
  let docs: unknown[];
  try {
    docs = loadAll(text, undefined, { schema: CORE_SCHEMA, json: false });
  } catch {
    return undefined;
  }
  const starts = documentStarts(text);
  if (docs.length === 0 || docs.length !== starts.length || docs.some((d) => d === null || typeof d !== 'object' || !withinLimits(d)))
    return undefined;
  const out: CheckedYamlDocument[] = [];
  for (const [index, data] of docs.entries()) {
    const parsed = scenarioSchema.safeParse(data);
    if (!parsed.success || (await resourceIssues(data)).length > 0 || checkRules(parsed.data).length > 0) return undefined;
    const name = parsed.data.metadata.name;
    const nameAt = () => nameLocation(file, text, index);
    out.push({ document: { file, doc: index, line: starts[index], name, errors: [] }, scenario: parsed.data, nameAt });
  }
  return out;
}

/** First content line (from 1) of each document, splitting at `---` / `...` markers in column 0. */
function documentStarts(text: string): number[] {
  const starts: number[] = [];
  let first: number | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (/^(---|\.\.\.)(\s|$)/.test(line)) {
      if (first !== undefined) starts.push(first);
      first = undefined;
      const rest = line.slice(3).trim();
      if (line.startsWith('---') && rest !== '' && !rest.startsWith('#')) first = i + 1;
      return;
    }
    if (first === undefined && line.trim() !== '' && !line.trimStart().startsWith('#') && !line.startsWith('%')) first = i + 1;
  });
  if (first !== undefined) starts.push(first);
  return starts;
}

function nameLocation(file: string, text: string, index: number): LoadError {
  const lineCounter = new LineCounter();
  const doc = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false })[index];
  const { line, col } = doc ? locate(doc, lineCounter, ['metadata', 'name'], 'value') : { line: 0, col: 0 };
  return { file, line, col, path: 'metadata.name', message: '' };
}

function isEmpty(doc: Document): boolean {
  const c = doc.contents;
  return doc.errors.length === 0 && (c === null || (isScalar(c) && c.value === null));
}

/** yaml reports an unclosed quote at the end of the input; the user needs to know where the string starts. */
function errorOffset(doc: Document, e: YAMLError): number {
  if (e.code !== 'MISSING_CHAR' || !/quote/i.test(e.message)) return e.pos[0];
  let offset = e.pos[0];
  visit(doc, {
    Scalar(_, node) {
      const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
      if (quoted && node.range && node.range[0] < e.pos[0] && node.range[1] >= e.pos[0]) offset = node.range[0];
    },
  });
  return offset;
}

function nameOf(data: unknown): string | undefined {
  const metadata = (data as { metadata?: { name?: unknown } } | null)?.metadata;
  return typeof metadata?.name === 'string' ? metadata.name : undefined;
}

async function resourceIssues(data: unknown): Promise<Array<{ path: PathSegment[]; at: 'key' | 'value'; message: string }>> {
  const spec = (data as { spec?: { resources?: unknown; steps?: unknown } } | null)?.spec;
  // Manifests live in spec.resources and in each step's apply list (scenario-v1-additions).
  const lists: Array<[unknown, PathSegment[]]> = [[spec?.resources, ['spec', 'resources']]];
  if (Array.isArray(spec?.steps))
    spec.steps.forEach((st: unknown, i) => lists.push([(st as { apply?: unknown } | null)?.apply, ['spec', 'steps', i, 'apply']]));
  const out = [];
  for (const [resources, at] of lists) {
    if (!Array.isArray(resources)) continue;
    for (const [i, r] of resources.entries()) {
      const typed = r as { apiVersion?: unknown; kind?: unknown } | null;
      // Without a string apiVersion and kind the scenario schema already reports the problem.
      if (typeof typed?.apiVersion !== 'string' || typeof typed.kind !== 'string') continue;
      for (const issue of await validateResource(r)) out.push({ ...issue, path: [...at, i, ...issue.path] });
    }
  }
  return out;
}

/** The yaml package's messages end with " at line L, column C" (we print positions ourselves). */
function yamlMessage(message: string): string {
  return message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
}
