/**
 * Name resolution for probes, remembered for a few seconds. A batch sends many probes to the same few names, and
 * every uncached lookup is a getaddrinfo call queued on libuv's four-thread pool: with dozens of probes at once
 * the queue, not the network, dominated connect times. Failures are not remembered.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';

const TTL_MS = 5_000;
const cache = new Map<string, { at: number; addresses: Promise<LookupAddress[]> }>();

function resolveAll(hostname: string, family: number): Promise<LookupAddress[]> {
  const key = `${family}/${hostname}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.addresses;
  const addresses = new Promise<LookupAddress[]>((resolve, reject) =>
    dnsLookup(hostname, { all: true, family }, (err, list) => (err ? reject(err) : resolve(list))),
  );
  cache.set(key, { at: Date.now(), addresses });
  addresses.catch(() => cache.delete(key));
  return addresses;
}

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** Drop-in for the `lookup` option of net.connect / http.request (both the single and the `all` form). */
export function cachedLookup(hostname: string, options: LookupOptions, callback: Callback): void {
  const family = typeof options.family === 'number' ? options.family : 0;
  resolveAll(hostname, family).then(
    (list) => {
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    },
    (err: NodeJS.ErrnoException) => callback(err, '', 0),
  );
}

/** The single-address form, for dgram sockets. */
export function cachedLookupOne(
  hostname: string,
  options: LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  cachedLookup(hostname, { ...options, all: false }, (err, address, family) =>
    callback(err, typeof address === 'string' ? address : '', family ?? 0),
  );
}
