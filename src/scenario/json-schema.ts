/**
 * The JSON Schema of scenario format v1, generated from the zod schema (the single source of truth).
 * `npm run gen:schema` writes it to schema/scenario-v1.schema.json; a test fails when that file is stale.
 * Cross-field rules (rules.ts) and resource schemas (resources.ts) are not expressible here; editors get the shape.
 */
import { z } from 'zod';
import { scenario } from './schema.js';

export const SCHEMA_ID = 'https://meshprobe.io/schema/scenario-v1.schema.json';

export function scenarioJsonSchema(): Record<string, unknown> {
  // io: 'input' — fields with defaults are optional for the author; unrepresentable checks (refinements) are skipped.
  const generated = z.toJSONSchema(scenario, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...generated, $id: SCHEMA_ID, title: 'meshprobe scenario (format v1)' };
}
