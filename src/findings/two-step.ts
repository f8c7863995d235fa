/**
 * A before/after pair of `diff` as a two-step scenario (pure): step `before` applies the old manifests and probes
 * every flow the change affects with the old prediction; step `after` deletes what the change removes, applies the
 * new manifests and probes the same flows with the new prediction. Each step gets a positive control (a flow that
 * reaches on that side), so the scenario passes the loader's rules and can be re-run as a regression test.
 */
import type { FlowChange } from '../predict/diff.js';
import { probeOf, type Matrix, type MatrixCell } from '../predict/matrix.js';
import type { WorldInput } from '../predict/world.js';
import type { Probe, Resource, Scenario } from '../scenario/schema.js';
import { resourceKey } from '../scenario/steps.js';

const label = (prefix: string, name: string, i: number) => `${prefix}-${i}-${name}`.slice(0, 63).replace(/-+$/, '');

function stepProbes(prefix: string, cells: readonly MatrixCell[], all: Matrix): Probe[] | string {
  const probes = cells.map((c, i) => probeOf(c, label(prefix, c.name, i)));
  if (!probes.some((p) => p.expect.reach)) {
    const control = all.cells.find((c) => c.prediction.reach);
    if (!control) return `no flow reaches ${prefix} the change: the ${prefix} step would have no positive control`;
    probes.push(probeOf(control, label(`${prefix}-control`, control.name, probes.length)));
  }
  return probes;
}

export function twoStepScenario(
  name: string,
  input: WorldInput,
  resources: { before: readonly Resource[]; after: readonly Resource[] },
  matrices: { before: Matrix; after: Matrix },
  changes: readonly FlowChange[],
): Scenario | string {
  if (changes.length === 0) return 'the change opens, closes or changes no flow: there is nothing to check before and after';
  const before = stepProbes(
    'before',
    changes.map((c) => c.before),
    matrices.before,
  );
  const after = stepProbes(
    'after',
    changes.map((c) => c.after),
    matrices.after,
  );
  if (typeof before === 'string') return before;
  if (typeof after === 'string') return after;
  const kept = new Set(resources.after.map(resourceKey));
  const removed = resources.before.filter((r) => !kept.has(resourceKey(r)));
  return {
    apiVersion: 'meshprobe.io/v1',
    kind: 'Scenario',
    metadata: { name, title: `policy change: ${changes.length} flows change`, tags: ['diff', 'steps'] },
    spec: {
      ...(input.mesh ? { mesh: input.mesh } : {}),
      namespaces: [...input.namespaces],
      workloads: [...input.workloads],
      externals: [...input.externals],
      resources: [],
      probes: [],
      steps: [
        { name: 'before', apply: [...resources.before], delete: [], probes: before },
        {
          name: 'after',
          apply: [...resources.after],
          delete: removed.map((r) => ({
            apiVersion: r.apiVersion,
            kind: r.kind,
            name: r.metadata.name,
            ...(r.metadata.namespace ? { namespace: r.metadata.namespace } : {}),
          })),
          probes: after,
        },
      ],
    },
  };
}
