/**
 * Certificates, new for every lab: a mesh CA issuing each sidecar (and the egress gateway) a workload certificate
 * whose URI SAN is its SPIFFE identity `spiffe://cluster.local/ns/<ns>/sa/<sa>` and whose subject is empty, as
 * istiod's CA issues them; a "trusted" CA for https listeners that probe clients and sidecars treat as a public CA
 * (the lab's system CA bundle); and an "untrusted" CA nothing trusts, for externals declared
 * `certificate: untrusted`. EC P-256 keys, issued in process (x509.ts): no program is started for them. The CAs'
 * keys are never written anywhere.
 */
import { join } from 'node:path';
import { PRIVATE_FILE, PUBLIC_FILE, writeNewFile } from './files.js';
import { certificatePem, issue, keyPem, type Issued } from './x509.js';

export interface ServerCert {
  key: string;
  names: string[];
  ca: 'trusted' | 'untrusted';
}

/** A workload certificate for a sidecar: `key` names the files, `spiffe` is the identity. */
export interface MeshCert {
  key: string;
  spiffe: string;
}

export type CaName = 'trusted' | 'untrusted' | 'mesh';

export function caFile(dir: string, which: CaName = 'trusted'): string {
  return join(dir, `ca-${which}.crt`);
}

export function certPaths(dir: string, key: string): { certFile: string; keyFile: string } {
  return { certFile: join(dir, `${key}.crt`), keyFile: join(dir, `${key}.key`) };
}

/**
 * Issues every certificate into `dir`: the three CAs' certificates (`ca-<name>.crt`, readable by all: a probe
 * client running as another uid reads the trusted one), then each leaf's `<key>.crt` and `<key>.key`. The keys are
 * root's (0600): the lab runtime that serves with them runs as root, and a key a pod's uid owned could be swapped
 * by that uid (files.ts).
 */
export function issueCertificates(dir: string, certs: ServerCert[], mesh: MeshCert[] = []): void {
  if (certs.length === 0 && mesh.length === 0) return;
  const cas = new Map<CaName, Issued>();
  for (const which of ['trusted', 'untrusted', 'mesh'] as const) {
    const ca = issue({ cn: `meshprobe-lab-${which}-ca` });
    cas.set(which, ca);
    writeNewFile(caFile(dir, which), certificatePem(ca.der), PUBLIC_FILE);
  }
  const leaves = [
    ...certs.map((c) => ({ key: c.key, ca: c.ca, cn: c.names[0] ?? c.key, san: c.names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)) })),
    ...mesh.map((m) => ({ key: m.key, ca: 'mesh' as const, cn: undefined, san: [`URI:${m.spiffe}`] })),
  ];
  for (const l of leaves) {
    const cert = issue({ cn: l.cn, san: l.san, issuer: cas.get(l.ca) });
    const { certFile, keyFile } = certPaths(dir, l.key);
    writeNewFile(certFile, certificatePem(cert.der), PUBLIC_FILE);
    writeNewFile(keyFile, keyPem(cert.key), PRIVATE_FILE);
  }
}
