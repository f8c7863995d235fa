/** The ClientHello node's TLS client really sends with these options (captured by a plain TCP server). */
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export function realClientHello(options: { servername?: string; alpn?: string[] }): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = createServer((s) =>
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
        server.close();
      }),
    );
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = tlsConnect({
        host: '127.0.0.1',
        port,
        rejectUnauthorized: false,
        ...(options.servername ? { servername: options.servername } : {}),
        ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
      });
      c.on('error', () => undefined);
    });
  });
}
