/**
 * SO_ORIGINAL_DST: the address a connection was headed to before an iptables REDIRECT sent it to this process.
 * Node has no API for it, so libc's getsockopt is called through koffi on the accepted socket's descriptor.
 */
import koffi from 'koffi';
import type { Socket } from 'node:net';

const SOL_IP = 0;
const SO_ORIGINAL_DST = 80;
const SOCKADDR_IN_SIZE = 16;

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, length: number[]) => number;
let getsockopt: GetSockOpt | undefined;

function libc(): GetSockOpt {
  if (!getsockopt) {
    const lib = koffi.load('libc.so.6');
    getsockopt = lib.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *value, _Inout_ uint32_t *length)') as GetSockOpt;
  }
  return getsockopt;
}

export interface OriginalDestination {
  address: string;
  port: number;
}

/** The original IPv4 destination, or undefined when the connection was not redirected (or is not IPv4). */
export function originalDestination(socket: Socket): OriginalDestination | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  const buf = Buffer.alloc(SOCKADDR_IN_SIZE);
  const len = [SOCKADDR_IN_SIZE];
  if (libc()(fd, SOL_IP, SO_ORIGINAL_DST, buf, len) !== 0) return undefined;
  // struct sockaddr_in: family (host order), port (network order), address (network order).
  const port = buf.readUInt16BE(2);
  const address = `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`;
  return { address, port };
}
