import { describe, expect, it } from '@jest/globals';
import { runnable } from '../../src/predict/probe.js';
import { matrixFlows, predictMatrix } from '../../src/predict/matrix.js';
import { UnsupportedError, type Target } from '../../src/targets/target.js';
import type { Scenario } from '../../src/scenario/schema.js';
import { externals, namespaces, workloads, world } from './fixtures.js';

/** A target whose check refuses what a lab without mTLS refuses: any stated expect.mtls/peer, or a named field. */
function target(refuse: (s: Scenario) => UnsupportedError | undefined): Target {
  return {
    name: 'lab',
    check: (s: Scenario) => {
      const e = refuse(s);
      if (e) throw e;
    },
  } as unknown as Target;
}
const noMtls = (s: Scenario) => {
  const i = s.spec.probes.findIndex((p) => p.expect.mtls !== undefined || p.expect.peer !== undefined);
  return i < 0 ? undefined : new UnsupportedError(`spec.probes[${i}].expect.mtls`, 'expect.mtls needs mutual TLS between sidecars');
};

describe('runnable: expectations the target can check', () => {
  const w = world();
  const m = predictMatrix(w, matrixFlows(w, ['http']));
  const input = { namespaces, workloads, externals, resources: [] };

  it('drops mtls/peer (and notes it) when the target cannot observe mTLS, keeping everything else', () => {
    const r = runnable(target(noMtls), 'm', input, [], m);
    if ('error' in r) throw new Error(r.error);
    expect(r.scenario.spec.probes.some((p) => p.expect.mtls !== undefined)).toBe(false);
    expect(r.scenario.spec.probes.find((p) => p.from === 'bar/sleep' && p.to === 'foo/httpbin')?.expect).toEqual({
      reach: true,
      viaSidecar: true,
      status: 200,
    });
    expect(r.matrix.notes[0]).toContain('cannot observe mutual TLS yet');
  });

  it('any other refusal is an error naming the field and the hint', () => {
    const r = runnable(
      target(() => new UnsupportedError('spec.resources[0]', 'the lab does not emulate Gateway', 'use --target kind')),
      'm',
      input,
      [],
      m,
    );
    expect(r).toEqual({ error: 'the lab target cannot run this matrix: the lab does not emulate Gateway (use --target kind)' });
  });
});
