/**
 * Whether a sidecar originating TLS (DestinationRule tls.mode SIMPLE or MUTUAL) verifies the server's certificate.
 * Up to Istio 1.20 a DestinationRule without `caCertificates` did NOT verify it (the best-practices page still warns
 * about this); since 1.21 (VERIFY_CERTIFICATE_AT_CLIENT on by default, istio/istio#48225) it is verified against
 * the proxy's system CA bundle. `insecureSkipVerify: true` turns verification off in every version.
 */
import semver from 'semver';
import type { ClientTls } from './types.js';

export type CaSource = 'caCertificates' | 'system' | 'none';

export interface TlsVerification {
  readonly verify: boolean;
  readonly caSource: CaSource;
  readonly reason: string;
}

export const SYSTEM_CA_SINCE = '1.21.0';

/** `version` like `1.20`, `1.24.2` or `1.22.0-beta.1`; an unparseable version is treated as current Istio. */
export function tlsVerification(version: string | undefined, tls: Pick<ClientTls, 'caCertificates' | 'insecureSkipVerify'>): TlsVerification {
  if (tls.insecureSkipVerify === true) {
    return { verify: false, caSource: 'none', reason: 'insecureSkipVerify: true turns off server certificate verification' };
  }
  if (tls.caCertificates) {
    return { verify: true, caSource: 'caCertificates', reason: `server certificate verified against caCertificates ${tls.caCertificates}` };
  }
  const parsed = version === undefined ? null : semver.coerce(version);
  if (parsed && semver.lt(parsed, SYSTEM_CA_SINCE)) {
    return {
      verify: false,
      caSource: 'none',
      reason: `Istio ${version}: without caCertificates the server certificate is not verified (before 1.21)`,
    };
  }
  const which = version === undefined ? 'current Istio' : `Istio ${version}`;
  return {
    verify: true,
    caSource: 'system',
    reason: `${which}: without caCertificates the server certificate is verified against the system CA bundle (since 1.21)`,
  };
}
