import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { scenarioJsonSchema } from '../../src/scenario/json-schema.js';

describe('schema/scenario-v1.schema.json', () => {
  it('is up to date with the zod schema (run `npm run gen:schema` after changing src/scenario/schema.ts)', () => {
    const committed: unknown = JSON.parse(readFileSync('schema/scenario-v1.schema.json', 'utf8'));
    expect(committed).toEqual(scenarioJsonSchema());
  });

  it('rejects unknown fields and makes defaulted fields optional for authors', () => {
    const schema = scenarioJsonSchema() as { additionalProperties: boolean; properties: { spec: { required: string[] } } };
    expect(schema.additionalProperties).toBe(false);
    // probes may be left out when spec.steps carries them (scenario-v1-additions); the loader's rules require one or the other
    expect(schema.properties.spec.required.sort()).toEqual(['namespaces', 'workloads']);
  });
});
