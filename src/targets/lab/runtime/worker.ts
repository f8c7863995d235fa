/**
 * The lab runtime: a thread of the lab's process (bundled to dist/lab/meshprobe-lab-runtime.mjs) that runs the
 * agent and the sidecar of many pods at once, each pod with its own Net (pod-net.ts): its sockets in its
 * pod's namespace, owned by the pod's uid. One long-lived runtime instead of two programs per pod: a pod then costs
 * a few sockets, not two program start-ups, and the code is warm from the first probe of every scenario.
 *
 * All pods of the thread share its event loop: Capacity (capacity.ts) decides when a probe may start and marks
 * a timeout that the thread's own stall may have caused.
 *
 * Messages in: {op: 'start', id, pod}, {op: 'stop', id, pods}, {op: 'hold', id, ms}, {op: 'reconfigure', …} and the
 * notices {op: 'drops'}, {op: 'forget'}, {op: 'exit'} (end this thread); out: {op: 'done', id, error?} and {op: 'log',
 * message}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setProbeHost } from '../../../agent/call.js';
import { parseServeConfig } from '../../../agent/config.js';
import { startAgent, type RunningAgent } from '../../../agent/serve.js';
import type { Observation } from '../../../agent/types.js';
import { INBOUND_SOURCE, type SidecarConfig } from '../sidecar/config.js';
import { startSidecar, type RunningSidecar } from '../sidecar/server.js';
import { absoluteNow, Capacity, LIMITS, LoopTicks } from './capacity.js';
import { podNet, type PodNet } from './pod-net.js';
import { forgetLab, onDropRead } from './fate.js';
import type { PodSpec, RuntimeNotice, RuntimeReply, RuntimeRequest } from './protocol.js';

interface RunningPod {
  nets: PodNet[];
  agent?: RunningAgent;
  sidecar?: RunningSidecar;
}

const pods = new Map<string, RunningPod>();
const port = parentPort;
if (!port) throw new Error('the lab runtime runs as a worker thread of the lab');
const reply = (r: RuntimeReply) => port.postMessage(r);
const shared = workerData as { ticks?: SharedArrayBuffer; slots?: number; slot?: number } | undefined;
const capacity = new Capacity(
  LIMITS,
  absoluteNow,
  shared?.ticks && shared.slots && shared.slot !== undefined ? { ticks: new LoopTicks(shared.ticks, shared.slots), slot: shared.slot } : undefined,
).start();
setProbeHost(capacity);

/** Blocks this thread for `ms` (no CPU spent), `afterMs` from now: a stall, on purpose. */
function hold(ms: number, afterMs: number): Promise<void> {
  return new Promise((resolve) =>
    setTimeout(
      () => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, Math.min(ms, 60_000)));
        resolve();
      },
      Math.max(0, afterMs),
    ),
  );
}

async function stopPod(key: string): Promise<void> {
  const pod = pods.get(key);
  pods.delete(key);
  if (!pod) return;
  await Promise.allSettled([pod.agent?.close(), pod.sidecar?.close()]);
  for (const n of pod.nets) n.close();
}

/**
 * Traffic without an XFCC header names no peer: the application's source address is its sidecar's own
 * socket towards it, which the sidecar recorded with the identity it verified — an exact join, made here where
 * both run (the record is always there first: the sidecar records the connection before it passes any byte on).
 */
function joinSidecarPeer(pod: RunningPod, obs: Observation): void {
  if (!pod.sidecar || obs.source.address !== INBOUND_SOURCE || (obs.peer && obs.peer.basis !== 'header-unverified')) return;
  const record = pod.sidecar.inboundVia(obs.source.address, obs.source.port);
  if (record?.peer) obs.peer = { identity: record.peer, basis: 'sidecar-record' };
}

async function startPod(spec: PodSpec): Promise<void> {
  if (pods.has(spec.key)) throw new Error(`pod ${spec.key} is already running`);
  const pod: RunningPod = { nets: [] };
  pods.set(spec.key, pod);
  try {
    if (spec.sidecar) {
      const net = podNet(spec.netnsPath, spec.sidecar.uid, spec.hosts);
      pod.nets.push(net);
      pod.sidecar = await startSidecar(spec.sidecar.config, net);
    }
    if (spec.agent) {
      const net = podNet(spec.netnsPath, spec.agent.uid, spec.hosts);
      pod.nets.push(net);
      const parsed = parseServeConfig(spec.agent.config);
      if (!parsed.ok) throw new Error(`invalid agent config: ${parsed.errors.join('; ')}`);
      pod.agent = await startAgent(parsed.value, undefined, net, (obs) => joinSidecarPeer(pod, obs));
    }
  } catch (err) {
    await stopPod(spec.key);
    throw err;
  }
}

async function reconfigure(key: string, config: SidecarConfig): Promise<void> {
  const sidecar = pods.get(key)?.sidecar;
  if (!sidecar) throw new Error(`pod ${key} has no running sidecar`);
  sidecar.reconfigure(config);
}

port.on('message', (m: RuntimeRequest | RuntimeNotice) => {
  if (m.op === 'drops') return onDropRead(m.read);
  if (m.op === 'forget') return forgetLab(m.lab);
  if (m.op === 'exit') {
    // Asked between two events, with every pod stopped: nothing of this thread is half made (see LabRuntime.close).
    capacity.stop();
    for (const key of pods.keys()) void stopPod(key);
    return void setImmediate(() => process.exit(0));
  }
  const work =
    m.op === 'start'
      ? startPod(m.pod)
      : m.op === 'hold'
        ? hold(m.ms, m.afterMs)
        : m.op === 'reconfigure'
          ? reconfigure(m.pod, m.sidecar)
          : Promise.all(m.pods.map(stopPod)).then(() => undefined);
  work.then(
    () => reply({ op: 'done', id: m.id }),
    (err: unknown) => reply({ op: 'done', id: m.id, error: err instanceof Error ? err.message : String(err) }),
  );
});

// One broken connection must not take every pod's traffic down (Envoy does not crash per connection either).
process.on('uncaughtException', (err) => reply({ op: 'log', message: `uncaught: ${err.stack ?? err.message}` }));
