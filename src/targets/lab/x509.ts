/**
 * X.509 certificates issued in process (RFC 5280, DER): EC P-256 keys from node's crypto, signed ECDSA with SHA-256.
 * Only what the lab's CAs and leaves need — a CA (basicConstraints CA, keyCertSign) and leaves with a subjectAltName
 * of DNS names, IP addresses or a URI (the SPIFFE identity), usable for both TLS server and client authentication.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIPv4 } from 'node:net';

// DER: tag, length, content.
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  if (n > 0xffff) throw new Error('DER value too long');
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, b: Buffer) => tlv(0xa0 + n, b);

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0] & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

export function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
/** An empty subject when there is no common name (Istio's workload certificates carry none). */
const name = (cn?: string) => (cn ? seq(set(seq(oid(OID.commonName), utf8(cn)))) : seq());

/** A subjectAltName entry: `DNS:…`, `IP:…` (IPv4) or `URI:…`. */
function generalName(entry: string): Buffer {
  const [kind, ...rest] = entry.split(':');
  const value = rest.join(':');
  if (kind === 'DNS') return tlv(0x82, Buffer.from(value, 'ascii'));
  if (kind === 'URI') return tlv(0x86, Buffer.from(value, 'ascii'));
  if (kind === 'IP' && isIPv4(value)) return tlv(0x87, Buffer.from(value.split('.').map(Number)));
  throw new Error(`unsupported subjectAltName entry ${entry}`);
}

export interface Issued {
  key: KeyObject;
  /** DER of the certificate. */
  der: Buffer;
  /** Key identifier (SHA-1 of the public key bits, RFC 5280 4.2.1.2 method 1). */
  keyId: Buffer;
  subject: Buffer;
}

export interface IssueOptions {
  /** Common name; none gives an empty subject (then the subjectAltName is critical, RFC 5280 4.2.1.6). */
  cn?: string;
  /** subjectAltName entries (`DNS:`, `IP:`, `URI:`); a leaf needs at least one. */
  san?: string[];
  /** The issuing CA; absent: a self-signed CA. */
  issuer?: Issued;
  days?: number;
  now?: Date;
}

function spkiBits(spki: Buffer): Buffer {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm, BIT STRING } — the key bits are the BIT STRING's content
  // after its unused-bits byte. For P-256 the BIT STRING is the last 66 bytes (tag, length, 0, 65-byte point).
  return spki.subarray(spki.length - 65);
}

export function issue(opts: IssueOptions): Issued {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha1').update(spkiBits(spki)).digest();
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000); // an hour back: clocks of two namespaces agree, but be lenient
  const notAfter = new Date(now.getTime() + (opts.days ?? 2) * 24 * 60 * 60 * 1000);
  const ca = !opts.issuer;
  const subject = name(opts.cn);
  const extensions = ca
    ? [
        extension(OID.basicConstraints, true, seq(bool(true))),
        extension(OID.keyUsage, true, tlv(0x03, Buffer.from([0x01, 0x06]))), // keyCertSign, cRLSign
        extension(OID.subjectKeyIdentifier, false, octets(keyId)),
      ]
    : [
        extension(OID.basicConstraints, true, seq()),
        extension(OID.keyUsage, true, tlv(0x03, Buffer.from([0x05, 0xa0]))), // digitalSignature, keyEncipherment
        extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))),
        extension(OID.subjectKeyIdentifier, false, octets(keyId)),
        extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, opts.issuer!.keyId))),
      ];
  if (opts.san?.length) extensions.push(extension(OID.subjectAltName, !opts.cn, seq(...opts.san.map(generalName))));
  else if (!ca) throw new Error('a leaf certificate needs a subjectAltName');
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    algorithm,
    opts.issuer?.subject ?? subject,
    seq(utcTime(notBefore), utcTime(notAfter)),
    subject,
    spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, opts.issuer?.key ?? privateKey); // ECDSA, DER-encoded (r, s)
  return { key: privateKey, der: seq(tbs, algorithm, bits(signature)), keyId, subject };
}

export function certificatePem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

export function keyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}
