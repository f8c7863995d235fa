/**
 * Reading the matrix's inputs with errors a person can act on (`file:line:col: field: message`, like the scenario
 * loader):
 * - a workloads file: a scenario's `spec` without probes and resources — `mesh`, `namespaces`, `workloads`,
 *   `externals` — validated with the scenario format's own zod pieces and cross-field rules;
 * - a policies directory: every YAML document in it (recursively) is a manifest, validated against its kind's
 *   schema like a scenario's `resources`.
 */
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { z } from 'zod';
import { formatPath, locate, type PathSegment } from '../scenario/positions.js';
import { validateResource } from '../scenario/resources.js';
import { checkRules } from '../scenario/rules.js';
import { external, httpRequest, mesh, namespace, workload, type Resource, type Scenario } from '../scenario/schema.js';
import { findYamlFiles, isFileProblem, readSource, type FileProblem } from '../scenario/source.js';
import { guardDocument } from '../scenario/yaml-guard.js';
import { fromZodIssue } from '../scenario/zod-issues.js';
import type { WorldInput } from './world.js';

export const workloadsFile = z.strictObject({
  mesh: mesh.optional(),
  namespaces: z.array(namespace).min(1),
  workloads: z.array(workload).min(1),
  externals: z.array(external).default([]),
  paths: z
    .array(httpRequest.shape.path.unwrap())
    .max(32)
    .optional()
    .describe('request targets (sent as written) every http cell is also probed with, e.g. /public/../private: path normalisation per cell'),
});
export type WorkloadsFile = z.output<typeof workloadsFile>;

export type Loaded<T> = { ok: true; value: T } | { ok: false; errors: string[] };

function at(file: string, doc: Document, lc: LineCounter, path: PathSegment[], where: 'key' | 'value', message: string): string {
  const { line, col } = locate(doc, lc, path, where);
  return `${file}:${line}:${col}: ${path.length ? `${formatPath(path)}: ` : ''}${message}`;
}

const problemText = (p: FileProblem) => (p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${p.message}` : `${p.file}: ${p.message}`);

/**
 * The documents of a file with their data, or errors with positions. Same limits as the scenario loader: size,
 * UTF-8, alias expansion and nesting (yaml-guard.ts), duplicate keys found in linear time.
 */
async function readYaml(file: string): Promise<{ docs: Array<{ doc: Document; data: unknown }>; lc: LineCounter; errors: string[] }> {
  const lc = new LineCounter();
  const text = await readSource(file);
  if (isFileProblem(text)) return { docs: [], lc, errors: [problemText(text)] };
  const parsed = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false, merge: true });
  if (!Array.isArray(parsed)) return { docs: [], lc, errors: [`${file}: not a YAML stream`] };
  const errors: string[] = [];
  const docs: Array<{ doc: Document; data: unknown }> = [];
  const pos = (offset: number) => {
    const { line, col } = lc.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  for (const doc of parsed) {
    if (doc.errors.length > 0) {
      errors.push(...doc.errors.map((e) => `${pos(e.pos[0])}: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`));
      continue;
    }
    if (doc.contents === null) continue;
    const guard = guardDocument(doc);
    if (guard.length > 0) {
      errors.push(...guard.map((g) => `${pos(g.offset)}: ${g.message}`));
      continue;
    }
    try {
      docs.push({ doc, data: doc.toJS({ maxAliasCount: -1 }) });
    } catch (err) {
      errors.push(`${pos(doc.range[0])}: ${(err as Error).message}`);
    }
  }
  return { docs, lc, errors };
}

export async function loadWorkloadsFile(file: string): Promise<Loaded<WorkloadsFile>> {
  const { docs, lc, errors } = await readYaml(file);
  if (errors.length) return { ok: false, errors };
  if (docs.length !== 1)
    return { ok: false, errors: [`${file}: expected exactly one YAML document (namespaces, workloads, externals), found ${docs.length}`] };
  const { doc, data } = docs[0];
  const parsed = workloadsFile.safeParse(data);
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.flatMap((i) => fromZodIssue(i, data, workloadsFile)).map((i) => at(file, doc, lc, i.path, i.at, i.message)),
    };
  }
  // The scenario format's cross-field rules, minus those about probes (there are none here).
  const asScenario: Scenario = {
    apiVersion: 'meshprobe.io/v1',
    kind: 'Scenario',
    metadata: { name: 'workloads' },
    spec: { ...parsed.data, resources: [], probes: [] },
  };
  const issues = checkRules(asScenario).filter((r) => r.path[1] !== 'probes');
  if (issues.length) return { ok: false, errors: issues.map((r) => at(file, doc, lc, r.path.slice(1), r.at ?? 'value', r.message)) };
  return { ok: true, value: parsed.data };
}

const WORKLOADS_FILE = /^workloads\.ya?ml$/i;

/** Every manifest in a directory (or file), validated; errors name file:line:col. */
export async function loadPolicies(path: string): Promise<Loaded<Resource[]>> {
  const problems: FileProblem[] = [];
  // A workloads file next to the manifests (diff's default) is not a manifest.
  const files = await findYamlFiles(path, problems, (name) => /\.ya?ml$/i.test(name) && !WORKLOADS_FILE.test(name));
  const resources: Resource[] = [];
  const errors: string[] = problems.map(problemText);
  for (const file of files) {
    const { docs, lc, errors: yamlErrors } = await readYaml(file);
    errors.push(...yamlErrors);
    for (const { doc, data } of docs) {
      const issues = await validateResource(data);
      errors.push(...issues.map((i) => at(file, doc, lc, i.path, i.at ?? 'value', i.message)));
      if (issues.length === 0) resources.push(data as Resource);
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: resources };
}

export function worldInputOf(workloads: Omit<WorkloadsFile, 'paths'>, resources: readonly Resource[]): WorldInput {
  return { ...workloads, resources };
}
