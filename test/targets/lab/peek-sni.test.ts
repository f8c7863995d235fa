/** ClientHello server_name: what the inbound sidecar records as connection.sni for an application's own TLS. */
import { describe, expect, test } from '@jest/globals';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { clientHelloAlpn, clientHelloSni } from '../../../src/targets/lab/sidecar/peek.js';

/** The ClientHello node's TLS client really sends (captured by a plain TCP server). */
function realClientHello(options: { servername?: string; alpn?: string[] }): Promise<Buffer> {
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

describe('ClientHello SNI', () => {
  test('reads the server name of a real ClientHello, next to its ALPN', async () => {
    const hello = await realClientHello({ servername: 'web.shop.svc.cluster.local', alpn: ['http/1.1'] });
    expect(clientHelloSni(hello)).toBe('web.shop.svc.cluster.local');
    expect(clientHelloAlpn(hello)).toEqual(['http/1.1']);
  });
  test('no server name, plaintext and truncated input give none', async () => {
    expect(clientHelloSni(await realClientHello({}))).toBeUndefined();
    expect(clientHelloSni(Buffer.from('GET / HTTP/1.1\r\n'))).toBeUndefined();
    expect(clientHelloSni((await realClientHello({ servername: 'a.test' })).subarray(0, 60))).toBeUndefined();
  });
});
