/**
 * The fidelity matrix on the lab with real traffic (needs root): every one of its cells (path normalisation,
 * policyTypes defaulting, named ports; sources in fidelity.ts) is observed as predicted, and a flipped policy is
 * caught as divergences on exactly the cells it changes.
 */
import { expect, test } from '@jest/globals';
import { cellKey, type Matrix } from '../../src/predict/matrix.js';
import { probeMatrix } from '../../src/predict/probe.js';
import { ensureAgentBundle } from '../targets/lab/helpers.js';
import { describeAsRoot } from '../support/as-root.js';
import { fidelityInputs, flipPolicyTypes, predictFidelity } from './fidelity.js';

describeAsRoot('fidelity matrix on the lab', () => {
  test('0 divergences: the lab and the predictor agree on every cell', async () => {
    ensureAgentBundle();
    const inputs = await fidelityInputs();
    const predicted = predictFidelity(inputs);
    const r = await probeMatrix(inputs.input, inputs.resources, predicted, { target: 'lab', name: 'fidelity' });
    if (!r.ok) throw new Error(r.error);
    const bad = r.matrix.cells.filter((c) => c.status !== 'agree').map((c) => `${c.name}: ${c.status} ${c.observed?.reason ?? ''}`);
    expect(bad).toEqual([]);
    expect(r.matrix.cells).toHaveLength(252);
    // Both outcomes were really observed.
    expect(r.matrix.cells.filter((c) => c.observed?.facts?.reach === true).length).toBeGreaterThan(50);
    expect(r.matrix.cells.filter((c) => c.observed?.facts?.reach === false).length).toBeGreaterThan(50);
  }, 300_000);

  test('mutation: the lab runs the flipped policy against the original predictions: every changed cell diverges', async () => {
    ensureAgentBundle();
    const inputs = await fidelityInputs();
    const before = predictFidelity(inputs);
    const flipped = flipPolicyTypes(inputs.resources);
    const after = new Map(predictFidelity(inputs, flipped).cells.map((c) => [cellKey(c.flow), c.prediction.reach]));
    const changed = before.cells.filter((c) => after.get(cellKey(c.flow)) !== c.prediction.reach);
    // A positive control the flip does not touch, so the run is meaningful.
    const control = before.cells.find((c) => c.flow.from === 'app/client' && c.flow.to === 'np/e' && c.flow.protocol === 'http' && !c.flow.http)!;
    expect(control.prediction.reach).toBe(true);
    const subset: Matrix = { ...before, cells: [control, ...changed] };
    const r = await probeMatrix(inputs.input, flipped, subset, { target: 'lab', name: 'fidelity-mutant' });
    if (!r.ok) throw new Error(r.error);
    const status = new Map(r.matrix.cells.map((c) => [c.name, c.status]));
    expect(status.get(control.name)).toBe('agree');
    expect(changed.length).toBeGreaterThan(10);
    expect(changed.map((c) => [c.name, status.get(c.name)])).toEqual(changed.map((c) => [c.name, 'diverge']));
  }, 300_000);
});
