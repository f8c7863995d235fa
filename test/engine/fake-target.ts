/**
 * A scriptable in-memory Target: each probe's observations are given as a sequence (the last step repeats), so
 * converge/flaky/error behaviour can be driven deterministically. It records every call, so tests can assert
 * what was (not) deployed and that everything deployed was undeployed.
 */
import type { Observation, Outcome } from '../../src/agent/types.js';
import { scenario as scenarioSchema, type Probe, type Scenario, type ScenarioInput } from '../../src/scenario/schema.js';
import {
  TargetError,
  type AttemptResult,
  type Deployment,
  type Diagnostic,
  type ProbeAttempt,
  type Target,
  type TargetInfo,
  type TargetName,
} from '../../src/targets/target.js';
import type { LoadedScenario } from '../../src/engine/loader.js';

/** One scripted attempt: what the client saw and where (if anywhere) the destination application saw it from. */
export type Step =
  | {
      outcome: Outcome;
      /** Source address the destination application saw; absent = nothing arrived. */
      arrivedFrom?: string;
      peer?: Observation['peer'];
      destinationQueried?: boolean;
      totalMs?: number;
      /** The target found its own harness stalled during this attempt (ProbeResult.harness.stall). */
      stall?: string;
    }
  | { throws: string };

export const POD = { client: '10.77.0.2', server: '10.77.0.3' };

export const step = {
  ok: (status?: number, extra: Partial<Extract<Step, { outcome: Outcome }>> = {}): Step => ({
    outcome: status === undefined ? { kind: 'ok' } : { kind: 'ok', status },
    arrivedFrom: '127.0.0.6',
    ...extra,
  }),
  reset: (): Step => ({ outcome: { kind: 'reset', afterBytes: 0 } }),
  eof: (): Step => ({ outcome: { kind: 'eof' } }),
  timeout: (totalMs = 2000): Step => ({ outcome: { kind: 'timeout', phase: 'connect' }, totalMs }),
  refused: (): Step => ({ outcome: { kind: 'refused' } }),
  http: (status: number, server = 'istio-envoy', body = 'RBAC: access denied'): Step => ({ outcome: { kind: 'http', status, server, body } }),
};

export interface FakeOptions {
  name?: TargetName;
  istioVersion?: string;
  /** Steps per probe name (the last step repeats). Unscripted probes: ok, arrived via the sidecar. */
  script?: Record<string, Step[]>;
  /** Scenario names whose deploy fails (e.g. a pod that cannot start). */
  deployFails?: Record<string, string>;
  /** Refuses scenarios: return an error to throw from check(). */
  refuse?: (s: Scenario) => Error | undefined;
  probeDelayMs?: number;
  prepareFails?: string;
  /** Declares that resources are in force when deploy returns (TargetInfo.appliesSynchronously). */
  appliesSynchronously?: boolean;
}

export class FakeTarget implements Target {
  readonly name: TargetName;
  readonly calls = { prepare: 0, teardown: 0, deployed: [] as string[], undeployed: [] as string[], batches: [] as string[][] };
  private readonly counters = new Map<string, number>();
  private nextId = 0;

  constructor(private readonly options: FakeOptions = {}) {
    this.name = options.name ?? 'lab';
  }

  /** Deployments not undeployed (what a run would leave behind). */
  get leftBehind(): string[] {
    const left = [...this.calls.deployed];
    for (const u of this.calls.undeployed) left.splice(left.indexOf(u), 1);
    return left;
  }

  async prepare(): Promise<TargetInfo> {
    this.calls.prepare += 1;
    if (this.options.prepareFails) throw new TargetError(this.options.prepareFails, 'fix the fake');
    return {
      name: this.name,
      istioVersion: this.options.istioVersion ?? '1.22.0',
      notes: ['fake target: scripted observations'],
      ...(this.options.appliesSynchronously ? { appliesSynchronously: true } : {}),
    };
  }

  check(s: Scenario): void {
    const err = this.options.refuse?.(s);
    if (err) throw err;
  }

  async deploy(s: Scenario): Promise<Deployment> {
    const fail = this.options.deployFails?.[s.metadata.name];
    if (fail) throw new TargetError(fail, 'see the pod log');
    const id = `${s.metadata.name}-${this.nextId++}`;
    this.calls.deployed.push(id);
    return { scenario: s, id };
  }

  async probe(dep: Deployment, batch: ProbeAttempt[], signal?: AbortSignal): Promise<AttemptResult[]> {
    this.calls.batches.push(batch.map((a) => a.probe.name));
    if (this.options.probeDelayMs) await new Promise((r) => setTimeout(r, this.options.probeDelayMs));
    if (signal?.aborted) throw new Error('aborted');
    return batch.map((a) => this.answer(dep, a));
  }

  private answer(dep: Deployment, a: ProbeAttempt): AttemptResult {
    const key = `${dep.id}/${a.probe.name}`;
    const n = this.counters.get(key) ?? 0;
    this.counters.set(key, n + 1);
    const steps = this.options.script?.[a.probe.name] ?? [step.ok()];
    const s = steps[Math.min(n, steps.length - 1)];
    if ('throws' in s) throw new TargetError(s.throws);
    const arrived: Observation[] = s.arrivedFrom
      ? [
          {
            nonce: a.nonce,
            protocol: 'tcp',
            source: { address: s.arrivedFrom, port: 40000 },
            local: { address: POD.server, port: a.probe.port ?? 0 },
            at: new Date().toISOString(),
            ...(s.peer ? { peer: s.peer } : {}),
          },
        ]
      : [];
    return {
      nonce: a.nonce,
      probeName: a.probe.name,
      client: {
        nonce: a.nonce,
        request: { nonce: a.nonce, protocol: a.probe.protocol, host: a.probe.to },
        outcome: s.outcome,
        timings: { totalMs: s.totalMs ?? 3 },
        bytes: { sent: 10, received: 0 },
        ...(s.stall ? { harness: { stall: s.stall } } : {}),
      },
      arrived,
      destinationQueried: s.destinationQueried ?? true,
      destinationAddresses: [POD.server],
    };
  }

  async diagnose(dep: Deployment, probeNames: string[]): Promise<Diagnostic[]> {
    return [{ title: `capture rules of ${dep.id}`, body: `fake diagnostics for ${probeNames.join(', ')}` }];
  }

  async undeploy(dep: Deployment): Promise<void> {
    this.calls.undeployed.push(dep.id);
  }

  async teardown(): Promise<void> {
    this.calls.teardown += 1;
  }
}

/** A probe in the scenario format; `expect` defaults to reach: true. */
export function probe(name: string, extra: Partial<Probe> = {}): NonNullable<ScenarioInput['spec']['probes']>[number] {
  return { name, from: 'app/client', to: 'app/server', port: 8080, protocol: 'http', expect: { reach: true }, ...extra };
}

/** A valid scenario (client → server in namespace `app`) loaded from a made-up file. */
export function loaded(
  name: string,
  probes: ScenarioInput['spec']['probes'],
  extra: Partial<ScenarioInput['spec']> = {},
  tags: string[] = [],
): LoadedScenario {
  const scenario = scenarioSchema.parse({
    apiVersion: 'meshprobe.io/v1',
    kind: 'Scenario',
    metadata: { name, title: `title of ${name}`, claim: `claim of ${name}`, source: 'test', tags },
    spec: {
      namespaces: [{ name: 'app' }],
      workloads: [
        {
          name: 'server',
          namespace: 'app',
          ports: [
            { port: 8080, protocol: 'http' },
            { port: 9090, protocol: 'tcp' },
          ],
        },
        { name: 'client', namespace: 'app' },
      ],
      probes,
      ...extra,
    },
  });
  return { scenario, file: `scenarios/${name}.yaml`, doc: 0, line: 1 };
}
