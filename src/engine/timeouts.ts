/**
 * Probe timeouts per probe class, for targets where a blocked flow can only be told by waiting (clusters): how long
 * a client waits for its connection and for its answer. Unset values keep the agent's defaults (2 s to connect,
 * 5 s for the whole exchange). The lab takes them too, but it rarely waits them out: it ends a dropped flow's
 * attempt as soon as its counters show the drop (src/targets/lab/runtime/fate.ts).
 *
 * - tcp, http (https too): `connect` bounds the TCP handshake, `response` the whole exchange from the attempt's
 *   start (the agent's `total`): a response timeout covers the connect, so it is the longer of the two.
 * - udp, icmp: no handshake; `response` is how long the client waits for the reply. A connect timeout for them is
 *   refused (it would mean nothing).
 */
import type { ProbeProtocol, ProbeRequest } from '../agent/types.js';

export const PROBE_CLASSES = ['tcp', 'http', 'udp', 'icmp'] as const;
export type ProbeClass = (typeof PROBE_CLASSES)[number];

export interface ClassTimeouts {
  connectMs?: number;
  responseMs?: number;
}
export type ProbeTimeouts = Partial<Record<ProbeClass, ClassTimeouts>>;

export function probeClass(protocol: ProbeProtocol): ProbeClass {
  return protocol === 'https' ? 'http' : protocol;
}

/** Problems with a timeouts setting, each naming the flag it came from. */
export function checkTimeouts(t: ProbeTimeouts): string[] {
  const errors: string[] = [];
  for (const [cls, v] of Object.entries(t) as Array<[string, ClassTimeouts]>) {
    if (!(PROBE_CLASSES as readonly string[]).includes(cls))
      errors.push(`unknown probe class ${JSON.stringify(cls)} (use ${PROBE_CLASSES.join(', ')})`);
    for (const [flag, ms] of [
      ['--connect-timeout', v.connectMs],
      ['--response-timeout', v.responseMs],
    ] as const) {
      if (ms !== undefined && !(Number.isFinite(ms) && ms > 0 && ms <= 600_000))
        errors.push(`${flag} ${cls}: a duration above 0 and at most 10m (got ${ms} ms)`);
    }
    if ((cls === 'udp' || cls === 'icmp') && v.connectMs !== undefined)
      errors.push(`--connect-timeout ${cls}: ${cls} has no handshake; its reply wait is --response-timeout ${cls}=<duration>`);
    if (v.connectMs !== undefined && v.responseMs !== undefined && v.connectMs > v.responseMs)
      errors.push(
        `--connect-timeout ${cls} (${v.connectMs} ms) is longer than --response-timeout ${cls} (${v.responseMs} ms), which covers the connect`,
      );
  }
  return errors;
}

/** The agent's request timeouts for a probe of `protocol`, or undefined to keep the agent's defaults. */
export function requestTimeouts(protocol: ProbeProtocol, t: ProbeTimeouts | undefined): ProbeRequest['timeoutMs'] | undefined {
  const v = t?.[probeClass(protocol)];
  if (!v || (v.connectMs === undefined && v.responseMs === undefined)) return undefined;
  // udp and icmp: the agent waits for the reply within its `connect` budget.
  if (protocol === 'udp' || protocol === 'icmp') return { connect: v.responseMs, total: v.responseMs };
  return { ...(v.connectMs !== undefined ? { connect: v.connectMs } : {}), ...(v.responseMs !== undefined ? { total: v.responseMs } : {}) };
}
