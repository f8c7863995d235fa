/**
 * `http.raw` on the wire: a raw TCP (and TLS) listener records the exact bytes the agent wrote, for every form issue
 * 19 names (dot segments, doubled slashes, percent-encodings, backslashes, lower-case methods, Host with a port, a
 * trailing dot or other case, absolute-form targets, no Host on HTTP/1.0), and the agent's own HTTP listener shows
 * the request line it received next to what was sent.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { runProbe } from '../../src/agent/call.js';
import { parseResponse, rawRequestBytes } from '../../src/agent/call-raw.js';
import { parseProbeRequests } from '../../src/agent/config.js';
import { startAgent, type RunningAgent } from '../../src/agent/serve.js';
import type { RawHttpRequest } from '../../src/agent/types.js';
import * as fx from './fixtures.js';

const LO = '127.0.0.1';
let tmp: ReturnType<typeof fx.tempDir>;
let certs: fx.Certs;
let plain: { server: Server; port: number; seen: Buffer[] };
let tls: { server: Server; port: number; seen: Buffer[] };
let agent: RunningAgent;
let agentPort = 0;
let seq = 0;

const ANSWER = "HTTP/1.1 418 I'm a teapot\r\ncontent-length: 5\r\nserver: raw-listener\r\n\r\nnope!";

/** Records everything up to the end of the header block, then answers. */
function recorder(seen: Buffer[]) {
  return (s: Socket | TLSSocket) => {
    let buf = Buffer.alloc(0);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.includes('\r\n\r\n')) {
        seen.push(buf);
        s.end(ANSWER);
      }
    });
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, LO, r));
  return (server.address() as { port: number }).port;
}

beforeAll(async () => {
  tmp = fx.tempDir();
  certs = fx.makeCerts(tmp.dir);
  const plainSeen: Buffer[] = [];
  const plainServer = createServer(recorder(plainSeen));
  plain = { server: plainServer, port: await listen(plainServer), seen: plainSeen };
  const tlsSeen: Buffer[] = [];
  const tlsServer = createTlsServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, recorder(tlsSeen));
  tls = { server: tlsServer, port: await listen(tlsServer), seen: tlsSeen };
  agentPort = await fx.freePort();
  agent = await startAgent({ name: 'app', control: join(tmp.dir, 'c.sock'), ports: [{ port: agentPort, protocol: 'http' }] });
});

afterAll(async () => {
  await agent?.close();
  await new Promise<void>((r) => plain.server.close(() => r()));
  await new Promise<void>((r) => tls.server.close(() => r()));
  tmp?.remove();
});

async function sendRaw(raw: RawHttpRequest, over: { https?: boolean } = {}) {
  const nonce = `raw-${process.pid}-${++seq}`;
  const target = over.https ? tls : plain;
  const before = target.seen.length;
  const result = await runProbe({
    nonce,
    protocol: over.https ? 'https' : 'http',
    host: LO,
    port: target.port,
    http: { raw },
    ...(over.https ? { tls: { caFile: certs.ca } } : {}),
  });
  return {
    result,
    wire: target.seen
      .slice(before)
      .map((b) => b.toString('latin1'))
      .join(''),
    nonce,
  };
}

const FORMS: ReadonlyArray<readonly [string, RawHttpRequest, string]> = [
  ['dot segments', { method: 'GET', requestTarget: '/public/../admin' }, 'GET /public/../admin HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n'],
  ['encoded dots', { method: 'GET', requestTarget: '/public/%2e%2E/admin' }, 'GET /public/%2e%2E/admin HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n'],
  ['doubled slashes', { method: 'GET', requestTarget: '//admin//x' }, 'GET //admin//x HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n'],
  ['percent-encodings', { method: 'GET', requestTarget: '/%61dmin%2Fx%5c%00' }, 'GET /%61dmin%2Fx%5c%00 HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n'],
  ['backslashes', { method: 'GET', requestTarget: '/public\\..\\admin' }, 'GET /public\\..\\admin HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n'],
  ['lower-case method', { method: 'get', requestTarget: '/admin' }, 'get /admin HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n'],
  ['Host with a port', { method: 'GET', requestTarget: '/', host: 'server.app:8080' }, 'GET / HTTP/1.1\r\nHost: server.app:8080\r\n'],
  [
    'Host with a trailing dot',
    { method: 'GET', requestTarget: '/', host: 'server.app.svc.cluster.local.' },
    'GET / HTTP/1.1\r\nHost: server.app.svc.cluster.local.\r\n',
  ],
  ['Host in other case', { method: 'GET', requestTarget: '/', host: 'SERVER.App' }, 'GET / HTTP/1.1\r\nHost: SERVER.App\r\n'],
  [
    'absolute-form',
    { method: 'GET', requestTarget: 'http://other.app:81/admin?x=1#f' },
    'GET http://other.app:81/admin?x=1#f HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n',
  ],
  ['no Host on HTTP/1.0', { method: 'GET', requestTarget: '/admin', version: '1.0' }, 'GET /admin HTTP/1.0\r\n'],
  ['query and fragment', { method: 'GET', requestTarget: '/admin?a=/../b#c' }, 'GET /admin?a=/../b#c HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n'],
  [
    'duplicate headers in order',
    {
      method: 'POST',
      requestTarget: '/',
      headers: [
        ['X-A', '1'],
        ['x-a', '2'],
        ['X-Forwarded-For', '10.0.0.1'],
      ],
    },
    'POST / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nX-A: 1\r\nx-a: 2\r\nX-Forwarded-For: 10.0.0.1\r\n',
  ],
  [
    'a space inside a header name',
    { method: 'GET', requestTarget: '/', headers: [['x y', 'z']] },
    'GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nx y: z\r\n',
  ],
];

describe('http.raw: the bytes on the wire are exactly the request as written (plus the nonce header, last)', () => {
  it.each(FORMS)('%s', async (_name, raw, head) => {
    const { result, wire, nonce } = await sendRaw(raw);
    expect(wire).toBe(`${head.replace('PORT', String(plain.port))}x-meshprobe-nonce: ${nonce}\r\n\r\n`);
    expect(result.outcome).toEqual({ kind: 'http', status: 418, server: 'raw-listener', body: 'nope!' });
    expect(result.bytes.sent).toBe(Buffer.byteLength(wire, 'latin1'));
    expect(result.request.http?.raw).toEqual(raw);
  });

  it('over TLS for https: the same bytes inside the TLS stream', async () => {
    const raw: RawHttpRequest = { method: 'get', requestTarget: '/a/../b', host: 'Localhost.' };
    const { result, wire, nonce } = await sendRaw(raw, { https: true });
    expect(wire).toBe(`get /a/../b HTTP/1.1\r\nHost: Localhost.\r\nx-meshprobe-nonce: ${nonce}\r\n\r\n`);
    expect(result.outcome).toMatchObject({ kind: 'http', status: 418 });
  });
});

describe('http.raw against the agent: what the application received, next to what was sent', () => {
  it('the observation records the request line and target exactly as they arrived', async () => {
    const nonce = `raw-${process.pid}-${++seq}`;
    const raw: RawHttpRequest = {
      method: 'GET',
      requestTarget: '/public/../admin/%2e%2e//x?q=1',
      headers: [
        ['X-A', '1'],
        ['X-A', '2'],
      ],
    };
    const r = await runProbe({ nonce, protocol: 'http', host: LO, port: agentPort, http: { raw } });
    expect(r.outcome).toMatchObject({ kind: 'ok', status: 200 });
    const obs = r.outcome.kind === 'ok' ? r.outcome.observation : undefined;
    expect(obs?.http).toMatchObject({
      method: 'GET',
      path: raw.requestTarget,
      requestLine: `GET ${raw.requestTarget} HTTP/1.1`,
      headers: { 'x-a': '1, 2' },
    });
    expect(r.request.http?.raw?.requestTarget).toBe(raw.requestTarget);
  });

  it("HTTP/1.0 without Host reaches node's server (no proxy in front refuses it)", async () => {
    const nonce = `raw-${process.pid}-${++seq}`;
    const r = await runProbe({
      nonce,
      protocol: 'http',
      host: LO,
      port: agentPort,
      http: { raw: { method: 'GET', requestTarget: '/x', version: '1.0' } },
    });
    expect(r.outcome).toMatchObject({ kind: 'ok' });
    expect(r.outcome.kind === 'ok' ? r.outcome.observation?.http?.requestLine : undefined).toBe('GET /x HTTP/1.0');
  });
});

describe("http.raw helpers and the agent's own validation", () => {
  it('rawRequestBytes: Host defaults to host:port on 1.1 and is absent on 1.0', () => {
    expect(rawRequestBytes({ method: 'GET', requestTarget: '/' }, 'server.app', 8080, 'n').toString('latin1')).toBe(
      'GET / HTTP/1.1\r\nHost: server.app:8080\r\nx-meshprobe-nonce: n\r\n\r\n',
    );
    expect(rawRequestBytes({ method: 'GET', requestTarget: '/', version: '1.0' }, 'server.app', 8080, 'n').toString('latin1')).toBe(
      'GET / HTTP/1.0\r\nx-meshprobe-nonce: n\r\n\r\n',
    );
  });

  it('parseResponse: content-length, chunked, until close', () => {
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), false)).toMatchObject({ status: 200, body: 'ok' });
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok'), false)).toBeUndefined();
    expect(parseResponse(Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'), false)).toMatchObject({
      body: 'ok',
    });
    expect(parseResponse(Buffer.from('HTTP/1.0 400 Bad Request\r\n\r\nbad'), true)).toMatchObject({ status: 400, body: 'bad' });
  });

  it('refuses anything that would break the line framing (CR/LF, spaces in the target, ":" in a name) and raw with path', () => {
    const bad = (raw: object, extra: object = {}) =>
      parseProbeRequests(JSON.stringify([{ nonce: 'n', protocol: 'http', host: 'h', port: 80, http: { raw, ...extra } }]));
    expect(bad({ method: 'GET', requestTarget: '/a\r\nX: y' }).ok).toBe(false);
    expect(bad({ method: 'GET', requestTarget: '/a b' }).ok).toBe(false);
    expect(bad({ method: 'GE T', requestTarget: '/' }).ok).toBe(false);
    expect(bad({ method: 'GET', requestTarget: '/', headers: [['a:b', 'c']] }).ok).toBe(false);
    expect(bad({ method: 'GET', requestTarget: '/', headers: [['a', 'c\r\nd: e']] }).ok).toBe(false);
    expect(bad({ method: 'GET', requestTarget: '/', version: '2' }).ok).toBe(false);
    expect(bad({ method: 'GET', requestTarget: '/' }, { path: '/x' }).ok).toBe(false);
    expect(bad({ method: 'get', requestTarget: '/a/../b', host: 'X.', headers: [['x y', 'z']] }).ok).toBe(true);
  });
});
