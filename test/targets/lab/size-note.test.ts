/**
 * A lab larger than the largest one measured is not refused: the target says so in a note (the matrix carries it),
 * naming the measured size and what happens beyond it. No lab is deployed here.
 */
import { expect, test } from '@jest/globals';
import { LabTarget, LARGEST_MEASURED } from '../../../src/targets/lab/index.js';
import { makeScenario } from './helpers.js';

const labOf = (pods: number) =>
  makeScenario('size', {
    workloads: Array.from({ length: pods }, (_, i) => ({ name: `w${i}`, namespace: 'app', ports: [{ port: 80, protocol: 'tcp' as const }] })),
    probes: [{ name: 'p', from: 'app/w0', to: 'app/w1', port: 80, protocol: 'tcp', expect: { reach: true } }],
  });

test('up to the largest measured lab there is no note; beyond it one naming the measured size, queueing and ERROR', () => {
  const target = new LabTarget();
  expect(target.sizeNote(labOf(LARGEST_MEASURED.pods))).toBeUndefined();
  const note = target.sizeNote(labOf(LARGEST_MEASURED.pods + 1));
  expect(note).toMatch(new RegExp(`^lab: ${LARGEST_MEASURED.pods + 1} pods is more than the largest lab measured \\(${LARGEST_MEASURED.pods} pods`));
  expect(note).toMatch(/queue .* ERROR, never FAIL/);
});
