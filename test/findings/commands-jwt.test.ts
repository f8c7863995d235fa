/** repro's commands.sh for a probe with http.jwt: the token cannot be reproduced by hand, and the script says so. */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { commandsScript } from '../../src/findings/commands.js';
import { scenario as scenarioSchema } from '../../src/scenario/schema.js';

const s = scenarioSchema.parse(YAML.parse(readFileSync('test/fixtures/scenarios/valid/jwt-request-principal.yaml', 'utf8')));

describe('commands.sh with http.jwt', () => {
  it('notes that the request goes without the token, and writes no token', () => {
    const probe = s.spec.probes.find((p) => p.name === 'expired-token');
    if (!probe) throw new Error('fixture changed');
    const script = commandsScript(s, probe, 'n1');
    expect(script).toMatch(/NOTE: this probe carries a JWT \(http\.jwt, subject "alice"\)/);
    expect(script).toMatch(/sent WITHOUT the token/);
    expect(script).not.toMatch(/Bearer|"jwt"/);
  });
});
