import { describe, expect, it } from '@jest/globals';
import { batches, compileFilters, planScenario, select, validateWhen, whenFails } from '../../src/engine/plan.js';
import { UnsupportedError } from '../../src/targets/target.js';
import { loaded, probe } from './fake-target.js';

const lab = { name: 'lab' as const, istioVersion: '1.22.3' };
const accept = () => {};

describe('filters', () => {
  const all = [
    loaded('strict-mtls', [probe('a')], {}, ['mtls']),
    loaded('egress-registry-only', [probe('a')], {}, ['egress']),
    loaded('authz-deny', [probe('a')], {}, ['authz', 'mtls']),
  ];
  const names = (scenario: string[], tag: string[]) =>
    select(all, { scenario: compileFilters('--scenario', scenario).filters, tag: compileFilters('--tag', tag).filters }).map(
      (l) => l.scenario.metadata.name,
    );

  it('selects everything without filters', () => {
    expect(names([], [])).toEqual(['strict-mtls', 'egress-registry-only', 'authz-deny']);
  });
  it('includes by unanchored regex, repeatable', () => {
    expect(names(['mtls'], [])).toEqual(['strict-mtls']);
    expect(names(['^strict', 'deny$'], [])).toEqual(['strict-mtls', 'authz-deny']);
  });
  it('excludes with a leading !', () => {
    expect(names(['!egress'], [])).toEqual(['strict-mtls', 'authz-deny']);
    expect(names([], ['mtls', '!authz'])).toEqual(['strict-mtls']);
  });
  it('combines scenario and tag filters with AND', () => {
    expect(names(['authz'], ['egress'])).toEqual([]);
    expect(names(['authz'], ['mtls'])).toEqual(['authz-deny']);
  });
  it('reports a bad regex as an input error naming the option', () => {
    expect(compileFilters('--tag', ['(']).errors[0]).toMatch(/^--tag "\(": not a regular expression/);
  });
});

describe('when', () => {
  it('holds without conditions and on matching versions / targets', () => {
    expect(whenFails(undefined, lab)).toBeUndefined();
    expect(whenFails({ istio: '>=1.13' }, lab)).toBeUndefined();
    expect(whenFails({ targets: ['lab', 'kind'] }, lab)).toBeUndefined();
    expect(whenFails({ istio: '>=1.31' }, { name: 'lab', istioVersion: '1.31-dev' })).toBeUndefined();
  });
  it('gives the reason when the version or target does not match', () => {
    expect(whenFails({ istio: '<1.13' }, lab)).toBe('needs Istio <1.13; the target runs 1.22.3');
    expect(whenFails({ targets: ['kind', 'existing'] }, lab)).toBe("runs only on kind, existing (this run's target: lab)");
  });
  it('rejects a range that is not semver before anything runs', () => {
    const bad = loaded('x', [probe('a')], { when: { istio: '>=1.13' } });
    bad.scenario.spec.probes[0].when = { istio: 'newest' };
    expect(validateWhen([bad])).toEqual([
      'scenarios/x.yaml:1: scenario x: probe a.when.istio: "newest" is not a semver range (e.g. ">=1.13", "<1.21")',
    ]);
  });
});

describe('planScenario', () => {
  it('skips a scenario whose when.targets excludes the target, without asking the target', () => {
    const refuse = () => {
      throw new UnsupportedError('spec.resources[0]', 'not emulated');
    };
    const p = planScenario(loaded('x', [probe('a')], { when: { targets: ['kind'] } }), lab, refuse);
    expect(p).toMatchObject({ kind: 'skip', reason: "runs only on kind (this run's target: lab)" });
  });
  it('reports a refusal with the field and hint', () => {
    const refuse = () => {
      throw new UnsupportedError(
        'spec.resources[0].spec.rules[0].to[0].operation.hosts',
        'the lab does not emulate hosts matches',
        'use --target kind',
      );
    };
    const p = planScenario(loaded('x', [probe('a')]), lab, refuse);
    expect(p).toEqual(
      expect.objectContaining({
        kind: 'refused',
        reason:
          'the lab target cannot run this scenario: spec.resources[0].spec.rules[0].to[0].operation.hosts: the lab does not emulate hosts matches (use --target kind)',
      }),
    );
  });
  it('skips probes whose when fails and batches the rest per source, uid and bypass', () => {
    const l = loaded('x', [
      probe('a'),
      probe('b', { port: 9090, protocol: 'tcp' }),
      probe('c', { as: { user: 1337 } }),
      probe('d', { from: 'app/server', to: 'app/client', port: undefined, protocol: 'icmp' }),
      probe('e', { when: { istio: '<1.13' }, expect: { reach: false } }),
    ]);
    const p = planScenario(l, lab, accept);
    if (p.kind !== 'run') throw new Error(`expected a run plan, got ${p.kind}`);
    expect(p.probes.find((x) => x.probe.name === 'e')?.skip).toBe('needs Istio <1.13; the target runs 1.22.3');
    expect(p.batches.map((b) => [b.key, b.probes.map((x) => x.name)])).toEqual([
      ['app/client|uid=-|bypass=-', ['a', 'b']],
      ['app/client|uid=1337|bypass=-', ['c']],
      ['app/server|uid=-|bypass=-', ['d']],
    ]);
  });
  it('does not deploy a scenario whose positive controls are all skipped', () => {
    const l = loaded('x', [probe('a', { when: { istio: '<1.13' } }), probe('b', { expect: { reach: false } })]);
    expect(planScenario(l, lab, accept)).toMatchObject({ kind: 'skip', reason: expect.stringContaining('every positive control') });
  });
  it('keeps batch order stable and separates bypass batches', () => {
    const b = batches([probe('a', { bypass: 'flush-capture' }), probe('b')].map((p) => ({ ...p, expect: { reach: true } })) as never);
    expect(b.map((x) => x.bypass)).toEqual(['flush-capture', undefined]);
  });
});
