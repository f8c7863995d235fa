/**
 * The lab's side of early verdicts (runtime/fate.ts): which flows the node's NetworkPolicy rules account for (one
 * per probe of the scenario, netpol.ts), and reading their packet counters (`iptables-save -c` in the node's
 * namespace, an argument vector) while probes are in flight, each read handed to the lab's runtime thread.
 * Reads start FIRST_READ_MS after a batch begins (most batches are over by then) and repeat while any batch of the
 * lab is in flight, one at a time per lab, READ_EVERY_MS apart or READ_COST_SHARE⁻¹ times as long as the last read
 * took, whichever is longer: a large lab's table (thousands of rules) takes long to list, and the reads must not
 * take the CPU its probes need. At 90 workloads (21,360 accounting rules, ≈ 0.35 s a read) reads every ≈ 2.4 s took
 * 29 s of CPU over a 184 s matrix; reading every ≈ 1 s took 50 s and the matrix 163 s and 184 s in two runs: no
 * clear gain on a 2-core machine whose cores the probes need, so the share stays a fifth.
 */
import type { Scenario } from '../../scenario/schema.js';
import type { LabDeployment } from './deploy.js';
import { run } from './exec.js';
import { accountingKey, type DropRule, type WatchedFlow } from './netpol.js';
import type { LabPlan } from './plan.js';
import { addRead, dropEvidence, type DropRead, type LabReads } from './runtime/fate.js';
import type { PodIo } from './processes.js';
import { timed } from './timing.js';
import { token } from './tokens.js';

const FIRST_READ_MS = 120;
const READ_EVERY_MS = 150;
const READ_COST_SHARE = 0.2;

interface Watch {
  flows: WatchedFlow[];
  accounting: Map<string, DropRule>;
  generation: number;
  appliedAt: number;
  active: number;
  reading: boolean;
  /** The counters could not be read: no more early verdicts in this lab. */
  broken?: boolean;
  /** The reads, for the attempts of probe clients started as programs in pods (`as`, flush-capture). */
  state: LabReads;
  remote: Set<Remote>;
}

/** An attempt of a program in a pod whose first packet left at `sentAt` on `flow`. */
interface Remote {
  flow: string;
  sentAt: number;
  seal(by: string): void;
}

const watches = new WeakMap<LabDeployment, Watch>();

/** The flows the scenario's probes make from a lab pod to another lab host (ICMP and loopback excluded). */
export function watchedFlows(scenario: Scenario, plan: LabPlan): WatchedFlow[] {
  const byKey = new Map(plan.hosts.map((h) => [h.key, h]));
  const out = new Map<string, WatchedFlow>();
  for (const p of scenario.spec.probes ?? []) {
    const src = byKey.get(p.from);
    const dst = byKey.get(p.to);
    if (!src || !dst || src === dst || p.protocol === 'icmp') continue;
    const protocol = p.protocol === 'udp' ? 'udp' : 'tcp';
    const port = p.port ?? (p.protocol === 'https' ? 443 : p.protocol === 'http' ? 80 : undefined);
    if (port === undefined) continue;
    const f: WatchedFlow = { src: src.address, dst: dst.address, protocol, port };
    out.set(`${protocol} ${f.src}>${f.dst}:${port}`, f);
  }
  return [...out.values()];
}

/** The flows the lab watches (none when early verdicts are off). */
export function flowsWatched(d: LabDeployment): WatchedFlow[] {
  return watches.get(d)?.flows ?? [];
}

/** The node's rules were (re)placed with these accounting rules: counters start again from zero. */
export function rulesApplied(d: LabDeployment, flows: WatchedFlow[], accounting: Map<string, DropRule>): void {
  const w = watches.get(d);
  if (w) {
    w.flows = flows;
    w.accounting = accounting;
    w.generation += 1;
    w.appliedAt = Date.now();
  } else {
    const appliedAt = Date.now();
    watches.set(d, {
      flows,
      accounting,
      generation: 1,
      appliedAt,
      active: 0,
      reading: false,
      state: { generation: 1, appliedAt, reads: [] },
      remote: new Set(),
    });
  }
}

const ACCOUNTED = /^\[(\d+):\d+\] -A (\S+) (-[sd]) (\d{1,3}(?:\.\d{1,3}){3})\/32 -p (tcp|udp) -m (?:tcp|udp) --dport (\d{1,5}) -j DROP$/;

/** The accounting rules with at least one packet, from `iptables-save -c` output. */
export function parseDropCounts(saved: string, accounting: Map<string, DropRule>): DropRead['counts'] {
  const out: DropRead['counts'] = [];
  for (const line of saved.split('\n')) {
    const m = ACCOUNTED.exec(line.trim());
    if (!m || m[1] === '0') continue;
    const rule = accounting.get(accountingKey(m[2], m[3] as '-s' | '-d', m[4], m[5], Number(m[6])));
    if (rule) out.push({ flow: rule.flow, packets: Number(m[1]), rule: rule.rule, side: rule.side });
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readLoop(d: LabDeployment, w: Watch): Promise<void> {
  w.reading = true;
  try {
    await sleep(FIRST_READ_MS);
    while (w.active > 0) {
      const { generation, appliedAt, accounting } = w;
      const startedAt = Date.now();
      const saved = await run('ip', [
        'netns',
        'exec',
        token('netns', d.plan.nodeNetns, 'node namespace'),
        'iptables-save',
        '-c',
        '-t',
        'filter',
      ]).catch(() => undefined);
      if (!saved) {
        w.broken = true; // no counters, no early verdicts: every probe waits for its timeout as before
        break;
      }
      const finishedAt = Date.now();
      const read: DropRead = { lab: d.labId, generation, appliedAt, startedAt, finishedAt, counts: parseDropCounts(saved.stdout, accounting) };
      timed(`counters: parsed ${read.counts.length} counted rules`, finishedAt);
      d.runtime.drops(read);
      if (addRead(w.state, read)) {
        for (const r of [...w.remote]) {
          const by = dropEvidence(w.state, r.flow, r.sentAt);
          if (!by) continue;
          w.remote.delete(r);
          r.seal(by);
        }
      }
      await sleep(Math.max(READ_EVERY_MS, (finishedAt - startedAt) / READ_COST_SHARE));
    }
  } finally {
    w.reading = false;
    if (w.active > 0 && !w.broken) void readLoop(d, w); // a batch began as this loop ended
  }
}

/** Runs `fn` (a batch of probes) with the lab's drop counters read while it is in flight. */
export async function withDropWatch<T>(d: LabDeployment, fn: () => Promise<T>): Promise<T> {
  const w = watches.get(d);
  if (!w || w.accounting.size === 0 || w.broken) return fn();
  w.active += 1;
  if (!w.reading) void readLoop(d, w);
  try {
    return await fn();
  } finally {
    w.active -= 1;
  }
}

const SENT_FLOW = /^(tcp|udp) \d{1,3}(\.\d{1,3}){3}>\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/;

/**
 * The conversation with a probe client started as a program in a pod (`call --chains --fates`, agent/fates.ts):
 * its `sent` lines become attempts waiting for their fate, decided on the same counter reads as the runtime's own
 * sockets. Undefined when the lab watches no flows. `done` forgets the program's attempts.
 */
export function fateConversation(d: LabDeployment): { io: PodIo; done(): void } | undefined {
  const w = watches.get(d);
  if (!w || w.broken || w.accounting.size === 0) return undefined;
  let write: ((line: string) => void) | undefined;
  const mine = new Set<Remote>();
  const io: PodIo = {
    attach: (wr) => {
      write = wr;
    },
    onLine: (line) => {
      if (!line.startsWith('{"sent":')) return;
      let m: { sent?: unknown; flow?: unknown; at?: unknown };
      try {
        m = JSON.parse(line) as typeof m;
      } catch {
        return;
      }
      const { sent, flow, at } = m;
      if (typeof sent !== 'string' || typeof flow !== 'string' || !SENT_FLOW.test(flow) || typeof at !== 'number') return;
      const r: Remote = { flow, sentAt: at, seal: (by) => write?.(JSON.stringify({ nonce: sent, by })) };
      mine.add(r);
      w.remote.add(r);
    },
  };
  return {
    io,
    done: () => {
      for (const r of mine) w.remote.delete(r);
    },
  };
}
