/**
 * `remote.ip` / `remoteIpBlocks` at a sidecar's inbound: "the original client IP, determined from the
 * X-Forwarded-For header or proxy protocol" (istio.io reference/config/security/authorization-policy, Source). The
 * sidecar's inbound HTTP connection manager has `use_remote_address: false` and `xff_num_trusted_hops: 0`
 * (pilot/pkg/networking/core/listener_builder.go), so Envoy's original-IP detection (Envoy docs "HTTP header
 * manipulation: x-forwarded-for", xff detection extension) takes the LAST (rightmost) address of X-Forwarded-For
 * (duplicate headers are joined with ","); without the header, or when that entry is not an IP address, it is the
 * connection's peer address. TCP has no headers: remote.ip is the peer address (no proxy protocol in the mesh).
 */
import { isIP } from 'node:net';

export function remoteIpOf(peerIp: string, headers?: Readonly<Record<string, string>>): string {
  const xff = headers ? Object.entries(headers).find(([k]) => k.toLowerCase() === 'x-forwarded-for')?.[1] : undefined;
  if (xff === undefined) return peerIp;
  const last = xff.split(',').at(-1)?.trim() ?? '';
  return isIP(last) !== 0 ? last : peerIp;
}
