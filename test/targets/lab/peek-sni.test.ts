/** ClientHello server_name: what the inbound sidecar records as connection.sni for an application's own TLS. */
import { describe, expect, test } from '@jest/globals';
import { clientHelloAlpn, clientHelloSni } from '../../../src/targets/lab/sidecar/peek.js';
import { realClientHello } from '../../support/client-hello.js';

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
