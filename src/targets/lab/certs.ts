/**
 * Certificates, new for every lab: a mesh CA issuing each sidecar (and the egress gateway) a workload certificate
 * whose URI SAN is its SPIFFE identity `spiffe://cluster.local/ns/<ns>/sa/<sa>`, as istiod's CA does; a "trusted"
 * CA for https listeners that probe clients and sidecars treat as a public CA (the lab's system CA bundle); and an
 * "untrusted" CA nothing trusts, for externals declared `certificate: untrusted`. EC P-256 keys, one shell run
 * with the independent openssl calls in parallel.
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

/** A workload certificate for a sidecar: `key` names the files, `spiffe` is the identity, `uid` may read the key. */
export interface MeshCert {
  key: string;
  spiffe: string;
  uid: number;
}

export type CaName = 'trusted' | 'untrusted' | 'mesh';

const EC = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2';
const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

export function caFile(dir: string, which: CaName = 'trusted'): string {
  return join(dir, `ca-${which}.crt`);
}

export function certPaths(dir: string, key: string): { certFile: string; keyFile: string } {
  return { certFile: join(dir, `${key}.crt`), keyFile: join(dir, `${key}.key`) };
}

function leaf(ca: CaName, key: string, cn: string, san: string): string {
  return `openssl req -x509 ${EC} -CA ca-${ca}.crt -CAkey ca-${ca}.key -keyout ${q(key)}.key -out ${q(key)}.crt -subj ${q(`/CN=${cn}`)} -addext ${q(`subjectAltName=${san}`)} 2>/dev/null &`;
}

/** The shell script that issues every certificate into `dir` (undefined when there is none to issue). */
export function certificateScript(dir: string, certs: ServerCert[], mesh: MeshCert[] = []): string | undefined {
  if (certs.length === 0 && mesh.length === 0) return undefined;
  const lines = ['set -e', `cd ${q(dir)}`];
  for (const which of ['trusted', 'untrusted', 'mesh'] as const) {
    lines.push(`openssl req -x509 ${EC} -keyout ca-${which}.key -out ca-${which}.crt -subj /CN=meshprobe-lab-${which}-ca 2>/dev/null &`);
  }
  lines.push('wait');
  for (const c of certs) {
    const san = c.names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    lines.push(leaf(c.ca, c.key, c.names[0] ?? c.key, san));
  }
  // Istio's workload certificates carry no subject; a CN is kept here only because openssl req needs a subject.
  for (const m of mesh) lines.push(leaf('mesh', m.key, m.spiffe.split('/').pop() ?? 'workload', `URI:${m.spiffe}`));
  lines.push('wait', `for f in ${[...certs, ...mesh].map((c) => `${q(c.key)}.crt`).join(' ')}; do test -s "$f"; done`);
  return lines.join('\n');
}

/** After the script: each key readable by the uid that uses it (its listener or sidecar) and nobody else. */
export function protectKeys(dir: string, certs: ServerCert[], mesh: MeshCert[] = []): void {
  for (const c of [...certs, ...mesh]) {
    const { keyFile } = certPaths(dir, c.key);
    chownSync(keyFile, c.uid, c.uid);
    chmodSync(keyFile, 0o600);
  }
}

export async function issueCertificates(dir: string, certs: ServerCert[], mesh: MeshCert[] = []): Promise<void> {
  const script = certificateScript(dir, certs, mesh);
  if (!script) return;
  await run('sh', ['-c', script]);
  protectKeys(dir, certs, mesh);
}
