/**
 * Certificates, new for every lab: a mesh CA issuing each sidecar (and the egress gateway) a workload certificate
 * whose URI SAN is its SPIFFE identity `spiffe://cluster.local/ns/<ns>/sa/<sa>` and whose subject is empty, as
 * istiod's CA issues them; a "trusted" CA for https listeners that probe clients and sidecars treat as a public CA
 * (the lab's system CA bundle); and an "untrusted" CA nothing trusts, for externals declared
 * `certificate: untrusted`. EC P-256 keys, issued in process (x509.ts): no program is started for them. The CAs'
 * keys are never written anywhere.
 */
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certificatePem, issue, keyPem, type Issued } from './x509.js';

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

export function caFile(dir: string, which: CaName = 'trusted'): string {
  return join(dir, `ca-${which}.crt`);
}

export function certPaths(dir: string, key: string): { certFile: string; keyFile: string } {
  return { certFile: join(dir, `${key}.crt`), keyFile: join(dir, `${key}.key`) };
}

/**
 * Issues every certificate into `dir`: the three CAs' certificates (`ca-<name>.crt`), then each leaf's `<key>.crt`
 * and `<key>.key`, the key readable by the uid that uses it (its listener or sidecar) and nobody else.
 */
export function issueCertificates(dir: string, certs: ServerCert[], mesh: MeshCert[] = []): void {
  if (certs.length === 0 && mesh.length === 0) return;
  const cas = new Map<CaName, Issued>();
  for (const which of ['trusted', 'untrusted', 'mesh'] as const) {
    const ca = issue({ cn: `meshprobe-lab-${which}-ca` });
    cas.set(which, ca);
    writeFileSync(caFile(dir, which), certificatePem(ca.der), { mode: 0o644 });
  }
  const leaves = [
    ...certs.map((c) => ({ key: c.key, uid: c.uid, ca: c.ca, cn: c.names[0] ?? c.key, san: c.names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)) })),
    ...mesh.map((m) => ({ key: m.key, uid: m.uid, ca: 'mesh' as const, cn: undefined, san: [`URI:${m.spiffe}`] })),
  ];
  for (const l of leaves) {
    const cert = issue({ cn: l.cn, san: l.san, issuer: cas.get(l.ca) });
    const { certFile, keyFile } = certPaths(dir, l.key);
    writeFileSync(certFile, certificatePem(cert.der), { mode: 0o644 });
    writeFileSync(keyFile, keyPem(cert.key), { mode: 0o600 });
    chownSync(keyFile, l.uid, l.uid);
    chmodSync(keyFile, 0o600);
  }
}
