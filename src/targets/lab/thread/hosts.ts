/**
 * Name resolution inside a pod thread. A pod process started with `ip netns exec` reads the pod's own /etc/hosts
 * (bind-mounted from /etc/netns/<pod>); a thread shares its process's files, so the same table is given to the
 * thread and dns.lookup answers from it. As in the pod, there is no DNS server: a name not in the table fails at
 * once with ENOTFOUND.
 */
import dns, { type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

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

/** A dns.lookup that answers from `table` (IP literals as themselves). */
export function tableLookup(table: Map<string, string[]>) {
  return (hostname: string, options: unknown, callback?: Callback): void => {
    const cb = (typeof options === 'function' ? options : callback) as Callback;
    const opts = typeof options === 'number' ? { family: options } : typeof options === 'object' && options ? (options as { family?: number | string; all?: boolean }) : {};
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family ?? 0);
    const literal = isIP(hostname);
    const found = (literal ? [hostname] : table.get(hostname.toLowerCase().replace(/\.$/, '')) ?? [])
      .map((address) => ({ address, family: isIP(address) }))
      .filter((a) => family === 0 || a.family === family);
    process.nextTick(() => {
      if (found.length === 0) {
        return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname }));
      }
      if (opts.all) return cb(null, found);
      cb(null, found[0].address, found[0].family);
    });
  };
}

/** Makes every dns.lookup of this thread (net, http, dgram and direct calls) answer from the pod's hosts file. */
export function useHostsTable(hostsText: string): void {
  const lookup = tableLookup(parseHosts(hostsText));
  (dns as unknown as { lookup: unknown }).lookup = lookup;
  (dns.promises as unknown as { lookup: unknown }).lookup = (hostname: string, options?: unknown) =>
    new Promise((resolve, reject) => lookup(hostname, options ?? {}, (err, address, family) => (err ? reject(err) : resolve(Array.isArray(address) ? address : { address, family }))));
  syncBuiltinESMExports();
}
