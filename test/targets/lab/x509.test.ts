/**
 * The lab's in-process certificates, checked by parties that did not make them: openssl (parsing and chain
 * verification with purpose checks), node's X509Certificate, and a real mutual-TLS handshake.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caFile, certPaths, issueCertificates } from '../../../src/targets/lab/certs.js';
import { certificatePem, issue, keyPem, oid } from '../../../src/targets/lab/x509.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-x509-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('DER encoding', () => {
  test('object identifiers encode base-128 arcs', () => {
    expect(oid('1.2.840.10045.4.3.2').toString('hex')).toBe('06082a8648ce3d040302');
    expect(oid('2.5.29.17').toString('hex')).toBe('0603551d11');
  });
});

describe('issued certificates', () => {
  const ca = issue({ cn: 'test-ca' });
  const spiffe = 'spiffe://cluster.local/ns/app/sa/server';
  const workload = issue({ san: [`URI:${spiffe}`], issuer: ca });
  const server = issue({ cn: 'api.example.com', san: ['DNS:api.example.com', 'IP:172.18.0.2'], issuer: ca });
  const other = issue({ cn: 'other-ca' });
  writeFileSync(join(dir, 'ca.crt'), certificatePem(ca.der));
  writeFileSync(join(dir, 'other.crt'), certificatePem(other.der));
  writeFileSync(join(dir, 'workload.crt'), certificatePem(workload.der));
  writeFileSync(join(dir, 'server.crt'), certificatePem(server.der));

  test('openssl verifies the chain for TLS server and client use, and only against the issuing CA', () => {
    for (const purpose of ['sslserver', 'sslclient']) {
      expect(openssl('verify', '-purpose', purpose, '-CAfile', join(dir, 'ca.crt'), join(dir, 'workload.crt'), join(dir, 'server.crt'))).toMatch(
        /workload.crt: OK\n.*server.crt: OK/s,
      );
    }
    expect(() => openssl('verify', '-CAfile', join(dir, 'other.crt'), join(dir, 'workload.crt'))).toThrow(
      /unable to get local issuer certificate|verification failed/,
    );
  });

  test('fields as a workload certificate from istiod carries them: empty subject, critical URI SAN', () => {
    const text = openssl('x509', '-noout', '-text', '-in', join(dir, 'workload.crt'));
    expect(text).toMatch(/Version: 3/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster.local\/ns\/app\/sa\/server/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    const x = new X509Certificate(workload.der);
    expect(x.subject ?? '').toBe(''); // node reports an empty subject as undefined
    expect(new X509Certificate(ca.der).subject).toBe('CN=test-ca');
    expect(x.subjectAltName).toBe(`URI:${spiffe}`);
    expect(x.checkIssued(new X509Certificate(ca.der))).toBe(true);
    expect(x.verify(new X509Certificate(ca.der).publicKey)).toBe(true);
    expect(x.verify(new X509Certificate(other.der).publicKey)).toBe(false);
    expect(new X509Certificate(server.der).subjectAltName).toBe('DNS:api.example.com, IP Address:172.18.0.2');
    expect(new X509Certificate(ca.der).ca).toBe(true);
    expect(x.ca).toBe(false);
    const now = Date.now();
    expect(Date.parse(x.validFrom)).toBeLessThan(now);
    expect(Date.parse(x.validTo)).toBeGreaterThan(now + 24 * 3600 * 1000);
  });

  test("a mutual-TLS handshake with them succeeds, and the client sees the server's identity", async () => {
    const srv = createServer(
      { key: keyPem(workload.key), cert: certificatePem(workload.der), ca: certificatePem(ca.der), requestCert: true, rejectUnauthorized: true },
      (s) => s.end('ok'),
    );
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const port = (srv.address() as { port: number }).port;
      const got = await new Promise<{ san?: string; data: string }>((resolve, reject) => {
        const c: TLSSocket = connect({
          host: '127.0.0.1',
          port,
          key: keyPem(server.key),
          cert: certificatePem(server.der),
          ca: certificatePem(ca.der),
          checkServerIdentity: () => undefined,
        });
        let data = '';
        c.on('data', (d) => (data += d))
          .on('end', () => resolve({ san: c.getPeerX509Certificate()?.subjectAltName, data }))
          .on('error', reject);
      });
      expect(got).toEqual({ san: `URI:${spiffe}`, data: 'ok' });
    } finally {
      srv.close();
    }
  });

  test('a leaf without a subjectAltName is refused', () => {
    expect(() => issue({ cn: 'x', issuer: ca })).toThrow(/needs a subjectAltName/);
    expect(() => issue({ san: ['EMAIL:a@b'], issuer: ca })).toThrow(/unsupported subjectAltName entry/);
  });
});

describe("a lab's certificate files", () => {
  test("the CAs' certificates readable by all, each leaf's key root's only (0600), and no CA key on disk", () => {
    const lab = join(dir, 'lab');
    execFileSync('mkdir', ['-p', lab]);
    issueCertificates(
      lab,
      [{ key: 'srv', names: ['api.example.com', '172.18.0.2'], ca: 'untrusted' }],
      [{ key: 'wl', spiffe: 'spiffe://cluster.local/ns/a/sa/b' }],
    );
    const { certFile, keyFile } = certPaths(lab, 'wl');
    for (const key of [keyFile, certPaths(lab, 'srv').keyFile]) {
      expect(statSync(key).uid).toBe(process.getuid?.());
      expect(statSync(key).mode & 0o777).toBe(0o600);
    }
    expect(statSync(caFile(lab, 'trusted')).mode & 0o777).toBe(0o644);
    expect(openssl('verify', '-CAfile', caFile(lab, 'mesh'), certFile)).toMatch(/OK/);
    expect(openssl('verify', '-CAfile', caFile(lab, 'untrusted'), certPaths(lab, 'srv').certFile)).toMatch(/OK/);
    expect(() => openssl('verify', '-CAfile', caFile(lab, 'trusted'), certPaths(lab, 'srv').certFile)).toThrow();
    expect(
      execFileSync('ls', [lab], { encoding: 'utf8' })
        .split('\n')
        .filter((f) => f.startsWith('ca-') && f.endsWith('.key')),
    ).toEqual([]);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });
});
