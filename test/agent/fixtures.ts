/** Real servers, certificates and temp dirs for the probe tests; each returns a way to clean up after itself. */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mp-probe-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A port nothing listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Running {
  port: number;
  close(): Promise<void>;
}

async function listenTcp(server: Server): Promise<Running> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Accepts, waits for the client's first bytes, then answers with `behaviour`. */
export function tcpServer(behaviour: 'reset' | 'close' | 'silent' | 'banner'): Promise<Running> {
  return listenTcp(
    createServer((s) => {
      s.once('data', () => {
        if (behaviour === 'reset') s.resetAndDestroy();
        else if (behaviour === 'close') s.end();
        else if (behaviour === 'banner') s.write('SSH-2.0-OpenSSH_9.2\r\n');
      });
    }),
  );
}

/** An HTTP server answering like an Istio sidecar's RBAC filter. */
export function denyingHttpServer(): Promise<Running> {
  return listenTcp(
    createHttpServer((_req, res) => {
      res.writeHead(403, { server: 'istio-envoy', 'content-type': 'text/plain' });
      res.end('RBAC: access denied');
    }) as unknown as Server,
  );
}

/** A UDP socket that either never answers or answers with something that is not the agent's observation. */
export async function udpServer(behaviour: 'silent' | 'foreign'): Promise<Running & { received: () => number }> {
  const s = createSocket('udp4');
  let received = 0;
  s.on('message', (_m, rinfo) => {
    received++;
    if (behaviour === 'foreign') s.send('pong', rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { port: s.address().port, received: () => received, close: () => new Promise((r) => s.close(() => r())) };
}

export interface Certs {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  clientUri: string;
}

/** A test CA, a server certificate for 127.0.0.1 and a client certificate carrying a SPIFFE URI SAN. */
export function makeCerts(dir: string): Certs {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=meshprobe-test-ca');
  const clientUri = 'spiffe://cluster.local/ns/test/sa/client';
  for (const [name, san] of [
    ['server', 'IP:127.0.0.1,DNS:localhost'],
    ['client', `URI:${clientUri}`],
  ] as const) {
    writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    openssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${name}.crt`),
      '-days',
      '1',
      '-extfile',
      f(`${name}.ext`),
    );
  }
  return {
    ca: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    clientUri,
  };
}

/** Builds the agent bundle into `outfile` with the project's own bundle script. */
export function bundleAgent(outfile: string): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle-agent.mjs'), '--outfile', outfile], { stdio: 'pipe' });
}
