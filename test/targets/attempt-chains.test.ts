/** How a batch's attempts go out on every target: one chain per probe, in attempt order. */
import { describe, expect, test } from '@jest/globals';
import { attemptChains as chains } from '../../src/targets/attempt-chains.js';
import type { ProbeAttempt } from '../../src/targets/target.js';
import { makeScenario } from './lab/helpers.js';

const s = makeScenario('chains', {
  workloads: [
    { name: 'a', namespace: 'app' },
    { name: 'b', namespace: 'app', ports: [{ port: 80, protocol: 'http' }] },
  ],
  probes: ['p', 'q', 'r'].map((name) => ({ name, from: 'app/a', to: 'app/b', port: 80, protocol: 'http' as const, expect: { reach: true } })),
});
const attempt = (name: string, n: number): ProbeAttempt => ({ probe: s.spec.probes.find((p) => p.name === name)!, nonce: `${name}${n}`, attempt: n });

describe('chains', () => {
  test('one chain per probe, each in attempt order whatever order the attempts came in', () => {
    const batch = [attempt('q', 3), attempt('p', 1), attempt('q', 1), attempt('r', 4), attempt('p', 2), attempt('q', 2)];
    expect(chains(batch).map((c) => c.map((a) => a.nonce))).toEqual([['q1', 'q2', 'q3'], ['p1', 'p2'], ['r4']]);
  });

  test('attempts of one probe with the same number run side by side, each number after the one before', () => {
    const batch = [attempt('p', 1), attempt('p', 1), attempt('p', 2), attempt('p', 1), attempt('p', 2), attempt('p', 3)];
    batch.forEach((a, i) => (a.nonce = `${a.nonce}-${i}`));
    expect(chains(batch).map((c) => c.map((a) => a.nonce))).toEqual([['p1-0', 'p2-2', 'p3-5'], ['p1-1', 'p2-4'], ['p1-3']]);
  });

  test('an empty batch has no chains', () => {
    expect(chains([])).toEqual([]);
  });
});
