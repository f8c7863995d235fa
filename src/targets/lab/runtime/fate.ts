/**
 * Early verdicts in the lab runtime: a probe whose packets the node's NetworkPolicy drops ends when the kernel's
 * counters say so, not when its timeout comes — with the same outcome the timeout would give.
 *
 * The lab (drops.ts) gives every watched flow (source, destination, protocol, port of a probe) a DROP rule of its
 * own at the end of each isolated pod's chain, and reads the rules' packet counters while probes are in flight.
 * The chains match only on addresses, protocol, destination port and interfaces, all fixed by the flow, and
 * accept established connections first: so once a flow's rule has counted a packet under the rules in force,
 * every new packet of that flow is dropped there, and a connection of that flow still waiting for its handshake
 * (or a datagram of it waiting for a reply) can never get one until the rules change. This module keeps the
 * sockets that wait (every socket the runtime's Nets make), and when a counter read that began after a socket's
 * first packet left shows more drops of its flow than the last read before it (or than the rules' zero at
 * installation), it tells the socket (SEALED_EVENT): the probe ends as its timeout would have. A proxy's upstream
 * (the client's own sidecar, which accepted the client's connection) passes the fate to its client's socket,
 * unless the proxy would give up first. Nothing here judges: the probe's outcome is still a timeout, and the
 * evidence names the rule and its counter.
 */
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { SEALED_EVENT, type OnBehalfOf, type SealedFate } from '../../../agent/net.js';

/** One counter read of one lab's node, as the lab sends it. */
export interface DropRead {
  lab: string;
  /** Increases each time the node's rules are replaced (counters start at zero again). */
  generation: number;
  /** When this generation's rules were in place (epoch ms). */
  appliedAt: number;
  startedAt: number;
  finishedAt: number;
  /** Accounting rules with at least one packet: flow key, packets, the rule, which side's isolation. */
  counts: Array<{ flow: string; packets: number; rule: string; side: 'ingress' | 'egress' }>;
}

interface Waiting {
  protocol: 'tcp' | 'udp';
  socket: EventEmitter;
  netnsPath: string;
  port: number;
  /** Destination address, once resolved. */
  dst?: string;
  /** When the first packet had left (epoch ms). */
  sentAt?: number;
  /** The socket's local address, once it has one. */
  local: () => string | undefined;
  onBehalfOf?: OnBehalfOf;
  createdAt: number;
}

/** A read with its counts by flow (a lab of 90 pods has thousands of flows and hundreds of waiting sockets). */
export interface IndexedRead {
  startedAt: number;
  finishedAt: number;
  byFlow: Map<string, DropRead['counts']>;
}

export interface LabReads {
  generation: number;
  appliedAt: number;
  reads: IndexedRead[];
}

const KEEP_READS = 64;
const waiting = new Set<Waiting>();
/** Every open TCP socket the runtime's Nets made, by namespace: where a proxy finds its client's socket. */
const openTcp = new Map<string, Set<Socket>>();
const labs = new Map<string, LabReads>();

/** Tracks a TCP connection the runtime made; it stops waiting once connected or closed. */
export function watchTcp(socket: Socket, netnsPath: string, host: string, port: number, isAddress: boolean, onBehalfOf?: OnBehalfOf): void {
  const w: Waiting = { protocol: 'tcp', socket, netnsPath, port, local: () => socket.localAddress, createdAt: Date.now() };
  if (onBehalfOf) w.onBehalfOf = onBehalfOf;
  // node connects right after the lookup (or on the next tick for an address); the tick queued here runs after it.
  const sent = () => process.nextTick(() => (w.sentAt = Date.now()));
  if (isAddress) {
    w.dst = host;
    sent();
  } else {
    socket.once('lookup', (err: Error | null, address: string) => {
      if (err) return;
      w.dst = address;
      sent();
    });
  }
  waiting.add(w);
  const set = openTcp.get(netnsPath) ?? new Set<Socket>();
  openTcp.set(netnsPath, set);
  set.add(socket);
  socket.once('connect', () => waiting.delete(w));
  socket.once('close', () => {
    waiting.delete(w);
    set.delete(socket);
    if (set.size === 0) openTcp.delete(netnsPath);
  });
}

/** Tracks a client's UDP socket: it waits from its first datagram (`markSent`) until it closes. */
export function watchUdp(
  socket: EventEmitter & { remoteAddress(): { address: string; port: number } },
  netnsPath: string,
  localAddress: () => string | undefined,
) {
  const w: Waiting = { protocol: 'udp', socket, netnsPath, port: 0, local: localAddress, createdAt: Date.now() };
  socket.once('close', () => waiting.delete(w));
  return {
    markSent: () => {
      if (w.sentAt !== undefined) return;
      try {
        const r = socket.remoteAddress();
        w.dst = r.address;
        w.port = r.port;
      } catch {
        return; // not connected: nothing to match a flow on
      }
      w.sentAt = Date.now();
      waiting.add(w);
    },
  };
}

const labOf = (netnsPath: string, lab: string) => netnsPath.startsWith(`/run/netns/mp-${lab}-`);

/** Takes one counter read of a lab's node and ends every wait it settles. */
export function onDropRead(read: DropRead): void {
  let state = labs.get(read.lab);
  if (!state) {
    state = { generation: read.generation, appliedAt: read.appliedAt, reads: [] };
    labs.set(read.lab, state);
  }
  if (!addRead(state, read)) return;
  for (const w of [...waiting]) {
    if (!labOf(w.netnsPath, read.lab)) continue;
    const by = decided(w, state);
    if (by) seal(w, by);
  }
}

/**
 * Adds a read to a lab's history (a new generation of rules starts it afresh); false for a read of rules that were
 * replaced since, which says nothing about the rules in force.
 */
export function addRead(state: LabReads, read: DropRead): boolean {
  if (read.generation > state.generation) {
    state.generation = read.generation;
    state.appliedAt = read.appliedAt;
    state.reads = [];
  }
  if (read.generation < state.generation) return false;
  const byFlow = new Map<string, DropRead['counts']>();
  for (const c of read.counts) byFlow.set(c.flow, [...(byFlow.get(c.flow) ?? []), c]);
  state.reads.push({ startedAt: read.startedAt, finishedAt: read.finishedAt, byFlow });
  if (state.reads.length > KEEP_READS) state.reads.shift();
  return true;
}

/** Forgets a lab (its pods are gone). */
export function forgetLab(lab: string): void {
  labs.delete(lab);
}

/** The evidence that `w`'s flow is dropped, from a read that began after its packet left, or undefined. */
function decided(w: Waiting, state: LabReads): string | undefined {
  if (w.sentAt === undefined || w.dst === undefined) return undefined;
  const src = w.local();
  if (!src) return undefined;
  return dropEvidence(state, `${w.protocol} ${src}>${w.dst}:${w.port}`, w.sentAt);
}

/** The evidence that `flow`'s packet sent at `sentAt` was dropped: a read begun after it shows more drops than before. */
export function dropEvidence(state: LabReads, flow: string, sentAt: number): string | undefined {
  if (sentAt <= state.appliedAt) return undefined;
  // The latest read (counters only grow under one generation of rules): it must have begun after the packet left.
  const after = state.reads.at(-1);
  const counts = after && after.startedAt > sentAt ? after.byFlow.get(flow) : undefined;
  if (!counts) return undefined;
  const before = state.reads.findLast((r) => r.finishedAt < sentAt);
  for (const c of counts) {
    const was = before?.byFlow.get(flow)?.find((b) => b.rule === c.rule)?.packets ?? 0;
    if (c.packets > was) {
      const policy = c.side === 'ingress' ? "the destination's ingress" : "the source's egress";
      return `dropped by NetworkPolicy (${policy} isolation): rule \`${c.rule}\` counted ${c.packets - was} more packet(s) of this flow (${was} → ${c.packets}) between a read before this attempt's first packet and one after it`;
    }
  }
  return undefined;
}

function seal(w: Waiting, by: string): void {
  waiting.delete(w);
  if (!w.onBehalfOf) {
    w.socket.emit(SEALED_EVENT, { by } satisfies SealedFate);
    return;
  }
  // A proxy's upstream: its client is the socket of this namespace whose local end is the downstream's remote end.
  const ds = w.onBehalfOf.downstream;
  const client = [...(openTcp.get(w.netnsPath) ?? [])].find(
    (s) => s !== ds && !s.connecting && !s.destroyed && s.localPort === ds.remotePort && s.localAddress === ds.remoteAddress,
  );
  client?.emit(SEALED_EVENT, {
    by: `the client's own sidecar accepted the connection and waits for its upstream connection, which is ${by}`,
    givesUpAt: w.createdAt + w.onBehalfOf.givesUpAfterMs,
  } satisfies SealedFate);
}
