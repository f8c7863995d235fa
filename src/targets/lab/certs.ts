/**
 * Certificates for https listeners: a lab CA that probe clients trust, and a second CA nothing trusts for
 * externals declared `certificate: untrusted`. One openssl shell run for the whole lab, only when a listener needs it.
 */
import { chownSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';

export interface ServerCert {
  key: string;
  names: string[];
  ca: 'trusted' | 'untrusted';
  uid: number;
}

const EC = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2';
const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

export function caFile(dir: string, which: 'trusted' | 'untrusted' = 'trusted'): string {
  return join(dir, `ca-${which}.crt`);
}

export function certPaths(dir: string, key: string): { certFile: string; keyFile: string } {
  return { certFile: join(dir, `${key}.crt`), keyFile: join(dir, `${key}.key`) };
}

export async function issueCertificates(dir: string, certs: ServerCert[]): Promise<void> {
  if (certs.length === 0) return;
  const lines = ['set -e', `cd ${q(dir)}`];
  for (const which of ['trusted', 'untrusted'] as const) {
    lines.push(`openssl req -x509 ${EC} -keyout ca-${which}.key -out ca-${which}.crt -subj /CN=meshprobe-lab-${which}-ca 2>/dev/null`);
  }
  for (const c of certs) {
    const san = c.names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    lines.push(`openssl req -x509 ${EC} -CA ca-${c.ca}.crt -CAkey ca-${c.ca}.key -keyout ${q(c.key)}.key -out ${q(c.key)}.crt -subj /CN=${q(c.names[0])} -addext ${q(`subjectAltName=${san}`)} 2>/dev/null`);
  }
  await run('sh', ['-c', lines.join('\n')]);
  for (const c of certs) {
    // The listener runs as the workload's uid and must read its key; nobody else may.
    const { keyFile } = certPaths(dir, c.key);
    chownSync(keyFile, c.uid, c.uid);
    chmodSync(keyFile, 0o600);
  }
}
