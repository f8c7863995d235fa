/**
 * Looking at the first bytes of an inbound connection without consuming them, as Envoy's TLS inspector does: the
 * server is created with `pauseOnConnect`, so node has read nothing yet, and recv(MSG_PEEK) leaves the bytes in
 * the kernel for whoever handles the connection next (node's TLS or HTTP machinery reads the handle directly and
 * would never see bytes that JavaScript had already taken).
 */
import koffi from 'koffi';
import type { Socket } from 'node:net';

const MSG_PEEK = 0x2;
const MSG_DONTWAIT = 0x40;
const PEEK_MAX = 16_384;
/** How long a silent client (a server-first protocol) is waited for before it is treated as plaintext. */
export const PEEK_TIMEOUT_MS = 5_000;

type Recv = (fd: number, buf: Buffer, len: number, flags: number) => number | bigint;
let recvFn: Recv | undefined;

function recv(): Recv {
  if (!recvFn) recvFn = koffi.load('libc.so.6').func('long recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)') as Recv;
  return recvFn;
}

/** Bytes the client sent first (empty: it closed or stayed silent). Waits for a whole TLS record when one starts. */
export function peekFirstBytes(socket: Socket, timeoutMs = PEEK_TIMEOUT_MS): Promise<Buffer> {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return Promise.resolve(Buffer.alloc(0));
  const deadline = Date.now() + timeoutMs;
  const buf = Buffer.alloc(PEEK_MAX);
  return new Promise((resolve) => {
    const attempt = (delay: number) => {
      const n = Number(recv()(fd, buf, PEEK_MAX, MSG_PEEK | MSG_DONTWAIT));
      const got = n > 0 ? Buffer.from(buf.subarray(0, n)) : Buffer.alloc(0);
      const complete = n > 0 && (got[0] !== 0x16 || got.length >= 5 + (got.length >= 5 ? got.readUInt16BE(3) : 0) || n >= PEEK_MAX);
      if (complete || n === 0 || Date.now() >= deadline || socket.destroyed) return resolve(got);
      setTimeout(() => attempt(Math.min(delay * 2, 20)), delay);
    };
    attempt(1);
  });
}

/** The body of extension `type` in a TLS ClientHello, or undefined (not a ClientHello, no such extension, truncated). */
function helloExtension(hello: Buffer, type: number): Buffer | undefined {
  try {
    if (hello[0] !== 0x16 || hello[5] !== 0x01) return undefined;
    let at = 9 + 2 + 32; // record header 5, handshake header 4, client_version 2, random 32
    at += 1 + (hello[at] ?? 0); // session id
    at += 2 + hello.readUInt16BE(at); // cipher suites
    at += 1 + (hello[at] ?? 0); // compression methods
    const end = Math.min(hello.length, at + 2 + hello.readUInt16BE(at));
    at += 2;
    while (at + 4 <= end) {
      const len = hello.readUInt16BE(at + 2);
      if (hello.readUInt16BE(at) === type) return hello.subarray(at + 4, Math.min(end, at + 4 + len));
      at += 4 + len;
    }
  } catch {
    /* truncated */
  }
  return undefined;
}

/**
 * The ALPN protocols a TLS ClientHello offers (empty when `hello` is not a ClientHello or has no ALPN extension).
 * Istio's sidecars offer `istio-peer-exchange` / `istio`; the inbound side uses that to tell mesh mTLS from an
 * application's own TLS, which passes through.
 */
export function clientHelloAlpn(hello: Buffer): string[] {
  const ext = helloExtension(hello, 16);
  const out: string[] = [];
  for (let p = 2; ext && p < ext.length; p += 1 + (ext[p] ?? 0)) out.push(ext.subarray(p + 1, p + 1 + (ext[p] ?? 0)).toString('latin1'));
  return out;
}

/**
 * The host name a TLS ClientHello asks for (server_name extension, RFC 6066), as Envoy's TLS inspector records it
 * for `connection.sni` on a connection that passes through; undefined without one.
 */
export function clientHelloSni(hello: Buffer): string | undefined {
  const ext = helloExtension(hello, 0);
  if (!ext || ext.length < 5 || ext[2] !== 0) return undefined;
  const len = ext.readUInt16BE(3);
  return ext.length >= 5 + len ? ext.subarray(5, 5 + len).toString('latin1') : undefined;
}
