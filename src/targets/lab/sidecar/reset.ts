/**
 * Resetting a connection as Envoy does (RST), safely. Node's `resetAndDestroy()` on a socket whose end() is still
 * being carried out (a shutdown pending) fails with EINVAL and marks the handle closing without closing it: the
 * socket never emits 'close', and the thread that owns it can never finish its cleanup (seen as a lab runtime
 * thread spinning in Node's CleanupHandles when it was ended). Once end() was asked for, a FIN is on its way and
 * the connection is destroyed instead.
 */
import type { Socket } from 'node:net';

export function resetConnection(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}
