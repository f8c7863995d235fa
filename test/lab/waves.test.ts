/** The order in which a batch's attempts go out through a pod's agent: in waves, one attempt per probe at a time. */
import { describe, expect, test } from '@jest/globals';
import { inWaves } from '../../src/targets/lab/probe.js';
import type { ProbeAttempt } from '../../src/targets/target.js';
import { makeScenario } from './helpers.js';

const s = makeScenario('waves', {
  workloads: [{ name: 'a', namespace: 'app' }, { name: 'b', namespace: 'app', ports: [{ port: 80, protocol: 'http' }] }],
  probes: ['p', 'q', 'r'].map((name) => ({ name, from: 'app/a', to: 'app/b', port: 80, protocol: 'http' as const, expect: { reach: true } })),
});
const attempt = (name: string, n: number): ProbeAttempt => ({ probe: s.spec.probes.find((p) => p.name === name)!, nonce: `${name}${n}`, attempt: n });

describe('inWaves', () => {
  test('every probe\'s first attempt, then every probe\'s second, …; as many in flight as there are probes', () => {
    const batch = [attempt('p', 1), attempt('p', 2), attempt('p', 3), attempt('q', 1), attempt('q', 2), attempt('q', 3), attempt('r', 4)];
    const { ordered, probes } = inWaves(batch);
    expect(ordered.map((a) => a.nonce)).toEqual(['p1', 'q1', 'r4', 'p2', 'q2', 'p3', 'q3']);
    expect(probes).toBe(3);
  });

  test('attempts of one probe keep their attempt order whatever order they came in', () => {
    const { ordered, probes } = inWaves([attempt('q', 3), attempt('q', 1), attempt('q', 2)]);
    expect(ordered.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(probes).toBe(1);
  });
});
