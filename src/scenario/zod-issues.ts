/**
 * Turns zod issues into field-level messages a scenario author can act on: one issue per unknown field (with a
 * "did you mean"), "required field is missing" instead of "expected string, received undefined", enum choices
 * spelled out.
 */
import type { z } from 'zod';
import type { PathSegment } from './positions.js';
import { unknownFieldMessage } from './suggest.js';

export interface FieldIssue {
  path: PathSegment[];
  message: string;
  at: 'key' | 'value';
}

type ZodIssue = z.core.$ZodIssue;

interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  element?: { _zod: { def: Def } };
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
  valueType?: { _zod: { def: Def } };
}

/** The field names an object schema at `path` accepts (for suggestions). */
function knownKeys(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const unwrap = () => {
    for (;;) {
      const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
      if (!inner) return;
      def = inner._zod.def;
    }
  };
  for (const seg of path) {
    unwrap();
    const next = typeof seg === 'number' ? def.element : (def.shape?.[seg] ?? def.valueType);
    if (!next) return [];
    def = next._zod.def;
  }
  unwrap();
  return Object.keys(def.shape ?? {});
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let v = data;
  for (const seg of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[seg as string];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

const EXPECTED: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

export function fromZodIssue(issue: ZodIssue, data: unknown, schema: z.ZodType): FieldIssue[] {
  const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], at: 'key', message: unknownFieldMessage(key, knownKeys(schema, path)) }));
    case 'invalid_type': {
      const value = valueAt(data, path);
      if (value === undefined) return [{ path, at: 'value', message: 'required field is missing' }];
      return [{ path, at: 'value', message: `must be ${EXPECTED[issue.expected] ?? issue.expected}, not ${describe(value)}` }];
    }
    case 'invalid_value': {
      const values = issue.values.map(String);
      const value = valueAt(data, path);
      const choices = values.length === 1 ? `"${values[0]}"` : `one of: ${values.join(', ')}`;
      if (value === undefined) return [{ path, at: 'value', message: `required field is missing (${choices})` }];
      return [{ path, at: 'value', message: `must be ${choices} (got ${describe(value)})` }];
    }
    case 'too_small':
      if (issue.origin === 'array')
        return [{ path, at: 'value', message: `must list at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}` }];
      if (issue.origin === 'number')
        return [{ path, at: 'value', message: `must be ${issue.inclusive ? 'at least' : 'more than'} ${String(issue.minimum)}` }];
      return [{ path, at: 'value', message: issue.message }];
    case 'too_big':
      if (issue.origin === 'number')
        return [{ path, at: 'value', message: `must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}` }];
      return [{ path, at: 'value', message: issue.message }];
    case 'custom':
      return [{ path, at: (issue.params as { at?: 'key' | 'value' } | undefined)?.at ?? 'value', message: issue.message }];
    default:
      return [{ path, at: 'value', message: issue.message }];
  }
}
