/**
 * Checks a raw Kubernetes / Istio manifest against the schema of its kind, strictly.
 *
 *   validateResource(obj) → Promise<ResourceIssue[]>   (empty = valid)
 *
 * Three checks per manifest: the value syntax of resource-values.ts (names, ports, CIDRs, hosts, labels), the kind's JSON Schema validator from kubernetes-models / @kubernetes-models/istio
 * (types, enums, required fields, mutually exclusive fields) and an unknown-field walk over the field tree in
 * schema/resources/ (those validators accept unknown fields, and a `rule:` typo for `rules:` would silently turn an
 * AuthorizationPolicy into allow-nothing or deny-nothing). Both are loaded lazily, per kind, on first use.
 * Used by the scenario loader and by the cluster targets on the manifests they render.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resourceValueIssues } from './resource-values.js';
import { findResourceKind, RESOURCE_KINDS, type ResourceKind } from './resource-kinds.js';
import { unknownFieldMessage } from './suggest.js';

export type PathSegment = string | number;

export interface ResourceIssue {
  /** field path inside the manifest, e.g. ['spec', 'rules', 0, 'form'] */
  path: PathSegment[];
  message: string;
  /** whether the issue is about the field's name (unknown field) or its value */
  at: 'key' | 'value';
}

type Shape = 0 | { p: Record<string, Shape> } | { i: Shape } | { m: Shape };

interface AjvError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
}
type Validator = (data: Record<string, unknown>) => AjvError[];
type ModelClass = new (data: unknown) => { validate(): void };

interface LoadedKind {
  shape: Shape;
  validate: Validator;
}

const SHAPES_DIR = new URL('../../schema/resources/', import.meta.url);
const loaded = new Map<ResourceKind, Promise<LoadedKind>>();

export async function validateResource(obj: unknown): Promise<ResourceIssue[]> {
  if (!isPlainObject(obj)) return [{ path: [], message: 'must be a Kubernetes object (a mapping)', at: 'value' }];
  const kind = findResourceKind(obj.apiVersion, obj.kind);
  if (!kind) return [unsupported(obj.apiVersion, obj.kind)];
  const { shape, validate } = await load(kind);
  const issues: ResourceIssue[] = [];
  walkUnknown(obj, shape, [], issues);
  issues.push(...fromAjv(validate(obj)));
  issues.push(...resourceValueIssues(obj, kind.kind));
  return issues;
}

/** "PeerAuthentication (security.istio.io/v1, security.istio.io/v1beta1), …" */
export function supportedKinds(): string {
  const byKind = new Map<string, string[]>();
  for (const k of RESOURCE_KINDS) byKind.set(k.kind, [...(byKind.get(k.kind) ?? []), k.apiVersion]);
  return [...byKind].map(([kind, versions]) => `${kind} (${versions.join(', ')})`).join(', ');
}

function unsupported(apiVersion: unknown, kind: unknown): ResourceIssue {
  const sameKind = RESOURCE_KINDS.filter((k) => k.kind === kind).map((k) => k.apiVersion);
  if (sameKind.length > 0) {
    return {
      path: ['apiVersion'],
      at: 'value',
      message: `${String(kind)} is supported with apiVersion ${sameKind.join(', ')}, not ${JSON.stringify(apiVersion)}`,
    };
  }
  return { path: ['kind'], at: 'value', message: `unsupported resource kind ${JSON.stringify(kind)}; supported: ${supportedKinds()}` };
}

function load(kind: ResourceKind): Promise<LoadedKind> {
  let entry = loaded.get(kind);
  if (!entry) {
    entry = (async () => {
      const file = fileURLToPath(new URL(kind.shapeFile, SHAPES_DIR));
      const { shape } = JSON.parse(readFileSync(file, 'utf8')) as { shape: Shape };
      const module = (await import(`${kind.pkg}/${kind.model}`)) as Record<string, ModelClass>;
      const Model = module[kind.kind];
      const validate: Validator = (data) => {
        try {
          new Model(data).validate();
          return [];
        } catch (err) {
          const errors = (err as { errors?: AjvError[] }).errors;
          if (Array.isArray(errors)) return errors;
          throw err;
        }
      };
      return { shape, validate };
    })();
    loaded.set(kind, entry);
  }
  return entry;
}

function walkUnknown(value: unknown, shape: Shape, path: PathSegment[], out: ResourceIssue[]): void {
  if (shape === 0) return;
  if ('i' in shape) {
    if (Array.isArray(value)) value.forEach((v, i) => walkUnknown(v, shape.i, [...path, i], out));
  } else if (isPlainObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if ('m' in shape) walkUnknown(v, shape.m, [...path, key], out);
      else if (key in shape.p) walkUnknown(v, shape.p[key], [...path, key], out);
      else out.push({ path: [...path, key], at: 'key', message: unknownFieldMessage(key, Object.keys(shape.p)) });
    }
  }
}

function fromAjv(errors: AjvError[]): ResourceIssue[] {
  // Errors inside the branches of a one-of/any-of only explain why each branch failed; the combinator's own error
  // says what the user must change.
  const relevant = errors.filter((e) => !/\/(oneOf|anyOf)\/\d+\//.test(e.schemaPath) && e.keyword !== 'not');
  const seen = new Set<string>();
  const out: ResourceIssue[] = [];
  for (const e of relevant) {
    const path: PathSegment[] = e.instancePath.split('/').slice(1).map(unescapePointer);
    const issue = describeAjv(e, path);
    const id = `${issue.path.join('.')}:${issue.message}`;
    if (!seen.has(id)) out.push(issue);
    seen.add(id);
  }
  return out;
}

function describeAjv(e: AjvError, path: PathSegment[]): ResourceIssue {
  switch (e.keyword) {
    case 'required':
      return { path: [...path, String(e.params.missingProperty)], at: 'value', message: 'required field is missing' };
    case 'enum':
      return { path, at: 'value', message: `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}` };
    case 'type':
      return { path, at: 'value', message: `must be of type ${String(e.params.type)}` };
    case 'oneOf':
    case 'anyOf':
      return { path, at: 'value', message: 'sets fields that are mutually exclusive (or none of the required alternatives)' };
    default:
      return { path, at: 'value', message: `fails the ${e.keyword} constraint ${JSON.stringify(e.params)}` };
  }
}

function unescapePointer(s: string): PathSegment {
  const text = s.replace(/~1/g, '/').replace(/~0/g, '~');
  return /^\d+$/.test(text) ? Number(text) : text;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
