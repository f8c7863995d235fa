/**
 * The reachability matrix (pure): every ordered (source workload, destination) pair × each port the destination
 * listens on × the probe protocols that port speaks (plus ICMP per pair when asked), each with its prediction.
 * `matrixScenario` turns it into a Scenario whose expectations ARE the predictions, so running it through the
 * engine makes every FAIL a divergence; `observe` folds the engine's judgements back into the cells.
 */
import type { ProbeJudgement, Facts, Verdict } from '../engine/types.js';
import { PROBE_PROTOCOLS } from '../agent/types.js';
import type { Expectation, Probe, Resource, Scenario } from '../scenario/schema.js';
import { expectationOf, type ExpectationOptions } from './expectation.js';
import type { ProbeProtocolName } from './names.js';
import { predict } from './predict.js';
import type { Flow, Prediction, World } from './types.js';
import type { WorldInput } from './world.js';

export const MATRIX_PROTOCOLS: readonly ProbeProtocolName[] = PROBE_PROTOCOLS;
export const DEFAULT_MATRIX_PROTOCOLS: readonly ProbeProtocolName[] = ['tcp', 'udp', 'http', 'https'];

export type CellStatus = 'predicted' | 'agree' | 'diverge' | 'flaky' | 'error' | 'skipped';

export interface Observed {
  readonly verdict: Verdict;
  readonly facts: Facts | null;
  /** The engine's sentence: for a FAIL, what was expected and what happened instead. */
  readonly reason: string;
}

export interface MatrixCell {
  /** The generated probe's name (DNS-1123, unique). */
  readonly name: string;
  readonly flow: Flow;
  readonly prediction: Prediction;
  readonly expected: Expectation;
  readonly status: CellStatus;
  readonly observed?: Observed;
}

/** A column of the truth table: one port and protocol (icmp: no port). */
export interface MatrixColumn {
  readonly port?: number;
  readonly protocol: ProbeProtocolName;
  /** An http cell's request target when it is not the default `/` (the matrix input's `paths`). */
  readonly path?: string;
}

export interface Matrix {
  readonly sources: readonly string[];
  readonly destinations: readonly string[];
  readonly cells: readonly MatrixCell[];
  /** Things a reader must know about how it was judged (e.g. fields the target cannot observe). */
  readonly notes: readonly string[];
}

export const columnKey = (c: MatrixColumn) =>
  `${c.port === undefined ? c.protocol : `${c.port}/${c.protocol}`}${c.path !== undefined ? ` ${c.path}` : ''}`;
/** A flow's column; a column given with its `path` (a grid looking a cell up) keeps it. */
type ColumnSource = Pick<Flow, 'port' | 'protocol'> & { readonly http?: Flow['http']; readonly path?: string };
const columnOf = (f: ColumnSource): MatrixColumn => {
  const path = f.http?.path ?? f.path;
  return { ...(f.port !== undefined ? { port: f.port } : {}), protocol: f.protocol, ...(path !== undefined ? { path } : {}) };
};
export const cellKey = (f: ColumnSource & Pick<Flow, 'from' | 'to'>) => `${f.from}>${f.to}>${columnKey(columnOf(f))}`;

function probeName(i: number, f: Flow): string {
  const slug = `c${i}-${f.from.replace('/', '-')}-${f.to.replace(/[/.]/g, '-')}-${f.protocol}${f.port ?? ''}`;
  return slug.slice(0, 63).replace(/-+$/, '');
}

/**
 * Flows for every pair × port × protocol the listener speaks (tcp listeners: tcp; http: http; …); each http
 * flow is repeated with every request target of `paths` (sent as written), so path normalisation shows per cell.
 */
export function matrixFlows(world: World, protocols: readonly ProbeProtocolName[] = DEFAULT_MATRIX_PROTOCOLS, paths: readonly string[] = []): Flow[] {
  const wanted = new Set(protocols);
  const flows: Flow[] = [];
  const destinations = [...world.workloads, ...world.externals];
  for (const src of world.workloads) {
    for (const dst of destinations) {
      for (const p of dst.ports) {
        if (!wanted.has(p.protocol)) continue;
        flows.push({ from: src.key, to: dst.key, port: p.port, protocol: p.protocol });
        if (p.protocol === 'http')
          for (const path of paths) flows.push({ from: src.key, to: dst.key, port: p.port, protocol: p.protocol, http: { path } });
      }
      if (wanted.has('icmp')) flows.push({ from: src.key, to: dst.key, protocol: 'icmp' });
    }
  }
  return flows;
}

export function predictMatrix(world: World, flows: readonly Flow[], options: ExpectationOptions = {}, notes: string[] = []): Matrix {
  const cells = flows.map((flow, i): MatrixCell => {
    const prediction = predict(world, flow);
    return { name: probeName(i, flow), flow, prediction, expected: expectationOf(prediction, flow, options), status: 'predicted' };
  });
  return {
    sources: world.workloads.map((w) => w.key),
    destinations: [...world.workloads.map((w) => w.key), ...world.externals.map((e) => e.key)],
    cells,
    notes,
  };
}

/** A cell as a scenario probe expecting what was predicted (named after the cell unless a name is given). */
export function probeOf(cell: MatrixCell, name: string = cell.name): Probe {
  const f = cell.flow;
  return {
    name,
    from: f.from,
    to: f.to,
    protocol: f.protocol,
    ...(f.port !== undefined ? { port: f.port } : {}),
    ...(f.asUser !== undefined ? { as: { user: f.asUser } } : {}),
    ...(f.bypass ? { bypass: f.bypass } : {}),
    ...(f.http ? { http: f.http } : {}),
    expect: cell.expected,
  };
}

/** The synthetic scenario: the workloads, the policies and one probe per cell expecting its prediction. */
export function matrixScenario(name: string, input: WorldInput, resources: readonly Resource[], matrix: Matrix): Scenario {
  return {
    apiVersion: 'meshprobe.io/v1',
    kind: 'Scenario',
    metadata: { name, title: `reachability matrix (${matrix.cells.length} probes)`, tags: ['matrix'] },
    spec: {
      ...(input.mesh ? { mesh: input.mesh } : {}),
      namespaces: [...input.namespaces],
      workloads: [...input.workloads],
      externals: [...input.externals],
      resources: [...resources],
      probes: matrix.cells.map((c) => probeOf(c)),
    },
  };
}

const STATUS_OF: Record<Verdict, CellStatus> = { PASS: 'agree', FAIL: 'diverge', FLAKY: 'flaky', ERROR: 'error', SKIPPED: 'skipped' };

/** Folds the engine's judgements (by probe name) into the cells. */
export function observe(matrix: Matrix, judgements: readonly ProbeJudgement[], notes: readonly string[] = []): Matrix {
  const byName = new Map(judgements.map((j) => [j.name, j]));
  const cells = matrix.cells.map((c): MatrixCell => {
    const j = byName.get(c.name);
    if (!j) return { ...c, status: 'skipped', observed: { verdict: 'SKIPPED', facts: null, reason: 'the run produced no judgement for this probe' } };
    return { ...c, status: STATUS_OF[j.verdict], observed: { verdict: j.verdict, facts: j.observed, reason: j.reason } };
  });
  return { ...matrix, cells, notes: [...matrix.notes, ...notes] };
}

export function columnsOf(matrix: Matrix): MatrixColumn[] {
  const seen = new Map<string, MatrixColumn>();
  for (const c of matrix.cells) {
    const col = columnOf(c.flow);
    seen.set(columnKey(col), col);
  }
  // A column's path variants follow it in the order they were declared (Map insertion order, stable sort).
  return [...seen.values()].sort((a, b) => (a.port ?? 0) - (b.port ?? 0) || a.protocol.localeCompare(b.protocol));
}

export function countStatus(matrix: Matrix): Record<CellStatus, number> {
  const out: Record<CellStatus, number> = { predicted: 0, agree: 0, diverge: 0, flaky: 0, error: 0, skipped: 0 };
  for (const c of matrix.cells) out[c.status] += 1;
  return out;
}
