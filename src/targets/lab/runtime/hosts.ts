/**
 * Name resolution for a pod in the lab runtime. A pod process started with `ip netns exec` reads the pod's own
 * /etc/hosts (bind-mounted from /etc/netns/<pod>); the runtime shares its process's files, so each pod's Net gets
 * the same table and answers from it. As in the pod, there is no DNS server: a name not in the table fails at once
 * with ENOTFOUND.
 */
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

/** hosts(5) text → name → addresses (first one first). */
export function parseHosts(text: string): Map<string, string[]> {
  const table = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const [address, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (!address || names.length === 0 || isIP(address) === 0) continue;
    for (const n of names) table.set(n.toLowerCase(), [...(table.get(n.toLowerCase()) ?? []), address]);
  }
  return table;
}

type Callback = (err: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) => void;

/** dns.lookup (and its single-address form) answering from `table` (IP literals as themselves). */
export function tableLookup(table: Map<string, string[]>) {
  const lookup = (hostname: string, options: unknown, callback?: Callback): void => {
    const cb = (typeof options === 'function' ? options : callback) as Callback;
    const opts =
      typeof options === 'number'
        ? { family: options }
        : typeof options === 'object' && options
          ? (options as { family?: number | string; all?: boolean })
          : {};
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family ?? 0);
    const literal = isIP(hostname);
    const found = (literal ? [hostname] : (table.get(hostname.toLowerCase().replace(/\.$/, '')) ?? []))
      .map((address) => ({ address, family: isIP(address) }))
      .filter((a) => family === 0 || a.family === family);
    process.nextTick(() => {
      if (found.length === 0) {
        return cb(
          Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname }),
        );
      }
      if (opts.all) return cb(null, found);
      cb(null, found[0].address, found[0].family);
    });
  };
  const lookupOne = (
    hostname: string,
    options: unknown,
    callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
  ): void =>
    lookup(hostname, { ...(typeof options === 'object' && options ? options : {}), all: false }, (err, address, family) =>
      callback(err, typeof address === 'string' ? address : '', family ?? 0),
    );
  return { lookup, lookupOne };
}
