/**
 * A JWT scenario judged by the whole engine on the lab with real traffic (needs root):
 * test/fixtures/scenarios/valid/jwt-request-principal.yaml — RequestAuthentication with an ALLOW rule on
 * requestPrincipals and a claim (istio.io authn-policy "End-user authentication" and authz-jwt tasks). A token is
 * minted for every attempt; valid → 200, another group or no token → 403 from RBAC, expired or forged → 401 from
 * jwt_authn, each a stable PASS; without the RequestAuthentication the valid token gives no principal and the
 * positive control FAILs.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { run } from '../../src/engine/run.js';
import type { RunResult } from '../../src/engine/types.js';
import { LabTarget } from '../../src/targets/lab/index.js';
import { ensureAgentBundle } from '../targets/lab/helpers.js';
import { describeAsRoot } from '../support/as-root.js';

const FIXTURE = 'test/fixtures/scenarios/valid/jwt-request-principal.yaml';

describeAsRoot('jwt scenario through the engine (on the lab, as root)', () => {
  let dir: string;
  let result: RunResult;

  beforeAll(async () => {
    ensureAgentBundle();
    dir = await mkdtemp(join(tmpdir(), 'mp-jwt-run-'));
    const doc = YAML.parse(await readFile(FIXTURE, 'utf8')) as { metadata: { name: string }; spec: { resources: Array<{ kind: string }> } };
    const mutated = structuredClone(doc);
    mutated.metadata.name = 'jwt-without-request-authentication';
    mutated.spec.resources = mutated.spec.resources.filter((r) => r.kind !== 'RequestAuthentication');
    await writeFile(join(dir, 'jwt.yaml'), YAML.stringify(doc));
    await writeFile(join(dir, 'mutated.yaml'), YAML.stringify(mutated));
    result = await run({ paths: [dir], target: new LabTarget(), settleTimeoutMs: 2_000, consecutive: 2 });
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const scenario = (name: string) => result.scenarios.find((s) => s.name === name);

  test('every probe PASSes: 200 with a valid token, 403 for another group or none, 401 expired or forged', () => {
    expect(result.inputErrors).toEqual([]);
    const s = scenario('jwt-request-principal');
    expect(s?.probes.map((p) => [p.name, p.verdict])).toEqual([
      ['valid-token', 'PASS'],
      ['other-group', 'PASS'],
      ['no-token', 'PASS'],
      ['expired-token', 'PASS'],
      ['forged-token', 'PASS'],
    ]);
  });

  test('without the RequestAuthentication the token gives no principal: the positive control FAILs with 403', () => {
    const s = scenario('jwt-without-request-authentication');
    const valid = s?.probes.find((p) => p.name === 'valid-token');
    expect(valid?.verdict).toBe('FAIL');
    expect(valid?.reason).toMatch(/403/);
    // An unverified token is just a header: expired and forged ones are no longer refused with 401.
    expect(s?.probes.find((p) => p.name === 'expired-token')?.verdict).toBe('FAIL');
  });
});
