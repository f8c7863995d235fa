/**
 * Reading the matrix's inputs with errors a person can act on (`file:line:col: field: message`, like the scenario
 * loader):
 * - a workloads file: a scenario's `spec` without probes and resources — `mesh`, `namespaces`, `workloads`,
 *   `externals` — validated with the scenario format's own zod pieces and cross-field rules;
 * - a policies directory: every YAML document in it (recursively) is a manifest, validated against its kind's
 *   schema like a scenario's `resources`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { z } from 'zod';
import { formatPath, locate, type PathSegment } from '../scenario/positions.js';
import { validateResource } from '../scenario/resources.js';
import { checkRules } from '../scenario/rules.js';
import { external, mesh, namespace, workload, type Resource, type Scenario } from '../scenario/schema.js';
import { fromZodIssue } from '../scenario/zod-issues.js';
import type { WorldInput } from './world.js';

export const workloadsFile = z.strictObject({
  mesh: mesh.optional(),
  namespaces: z.array(namespace).min(1),
  workloads: z.array(workload).min(1),
  externals: z.array(external).default([]),
});
export type WorkloadsFile = z.output<typeof workloadsFile>;

export type Loaded<T> = { ok: true; value: T } | { ok: false; errors: string[] };

function at(file: string, doc: Document, lc: LineCounter, path: PathSegment[], where: 'key' | 'value', message: string): string {
  const { line, col } = locate(doc, lc, path, where);
  return `${file}:${line}:${col}: ${path.length ? `${formatPath(path)}: ` : ''}${message}`;
}

function parseYaml(file: string, text: string): { docs: Document[]; lc: LineCounter; errors: string[] } {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, merge: true });
  if (!Array.isArray(docs)) return { docs: [], lc, errors: [`${file}: not a YAML stream`] };
  const errors = docs.flatMap((d) => d.errors.map((e) => {
    const { line, col } = lc.linePos(e.pos[0]);
    return `${file}:${line}:${col}: ${e.message.split('\n')[0]}`;
  }));
  return { docs: docs.filter((d) => d.contents !== null), lc, errors };
}

export async function loadWorkloadsFile(file: string): Promise<Loaded<WorkloadsFile>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, errors: [`${file}: cannot read: ${(err as Error).message}`] };
  }
  const { docs, lc, errors } = parseYaml(file, text);
  if (errors.length) return { ok: false, errors };
  if (docs.length !== 1) return { ok: false, errors: [`${file}: expected exactly one YAML document (namespaces, workloads, externals), found ${docs.length}`] };
  const doc = docs[0];
  const data: unknown = doc.toJS();
  const parsed = workloadsFile.safeParse(data);
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.flatMap((i) => fromZodIssue(i, data, workloadsFile)).map((i) => at(file, doc, lc, i.path, i.at, i.message)) };
  }
  // The scenario format's cross-field rules, minus those about probes (there are none here).
  const asScenario: Scenario = { apiVersion: 'meshprobe.io/v1', kind: 'Scenario', metadata: { name: 'workloads' }, spec: { ...parsed.data, resources: [], probes: [] } };
  const issues = checkRules(asScenario).filter((r) => r.path[1] !== 'probes');
  if (issues.length) return { ok: false, errors: issues.map((r) => at(file, doc, lc, r.path.slice(1), r.at ?? 'value', r.message)) };
  return { ok: true, value: parsed.data };
}

const WORKLOADS_FILE = /^workloads\.ya?ml$/i;

async function yamlFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (!s.isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(full)));
    // A workloads file next to the manifests (diff's default) is not a manifest.
    else if (/\.ya?ml$/i.test(entry.name) && !WORKLOADS_FILE.test(entry.name)) out.push(full);
  }
  return out;
}

/** Every manifest in a directory (or file), validated; errors name file:line:col. */
export async function loadPolicies(path: string): Promise<Loaded<Resource[]>> {
  let files: string[];
  try {
    files = await yamlFiles(path);
  } catch (err) {
    return { ok: false, errors: [`${path}: cannot read: ${(err as Error).message}`] };
  }
  const resources: Resource[] = [];
  const errors: string[] = [];
  for (const file of files) {
    const { docs, lc, errors: yamlErrors } = parseYaml(file, await readFile(file, 'utf8'));
    errors.push(...yamlErrors);
    for (const doc of docs) {
      const data: unknown = doc.toJS();
      const issues = await validateResource(data);
      errors.push(...issues.map((i) => at(file, doc, lc, i.path, i.at ?? 'value', i.message)));
      if (issues.length === 0) resources.push(data as Resource);
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: resources };
}

export function worldInputOf(workloads: WorkloadsFile, resources: readonly Resource[]): WorldInput {
  return { ...workloads, resources };
}
