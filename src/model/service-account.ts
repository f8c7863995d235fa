/**
 * AuthorizationPolicy `source.serviceAccounts` / `notServiceAccounts` and the `when` key `source.serviceAccount`,
 * since Istio 1.25 (istio/istio#54091). A value is `namespace/name`, or `name` in the policy's own namespace; it
 * matches a peer whose mTLS identity is `spiffe://<trust domain>/ns/<namespace>/sa/<name>` — pilot/pkg/security/
 * authz/model/generator.go serviceAccountRegex: `spiffe://.+/ns/NS/(.+/|)sa/NAME(/.+)?`, matched in full, so other
 * key/value pairs may surround the two. Without a peer identity (plaintext) nothing matches.
 */

/** Istio's validation (pkg/config/security CheckServiceAccount), with its messages; undefined when valid. */
export function serviceAccountError(key: string, values: readonly string[]): string | undefined {
  if (values.length > 16) return 'may not have more than 16 values';
  const format = "expected format 'serviceAccount' or 'namespace/serviceAccount'";
  for (const value of values) {
    if (value === '') return `empty value not allowed, found in ${key}`;
    if (value.includes('*')) return `wildcard not allowed, found in ${key}`;
    const slashes = value.split('/').length - 1;
    if (slashes > 1) return `${format}, found "${value}" in ${key}`;
    if (value.length > 320) return `value cannot exceed 320 characters, found "${value}" in ${key}`;
    const [ns, sa] = slashes === 1 ? (value.split('/') as [string, string]) : [undefined, value];
    if (ns === '') return `${format}, found empty namespace "${value}" in ${key}`;
    if (sa === '') return `${format}, found empty serviceAccount "${value}" in ${key}`;
  }
  return undefined;
}

/** `name` → `policyNamespace/name`; `ns/name` unchanged. */
export function qualifyServiceAccount(value: string, policyNamespace: string): string {
  return value.includes('/') ? value : `${policyNamespace}/${value}`;
}

const escapeRegex = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/** Does the peer identity (with or without `spiffe://`) belong to the service account `namespace/name`? */
export function serviceAccountMatches(qualified: string, principal: string | undefined): boolean {
  if (principal === undefined) return false;
  const [ns = '', sa = ''] = qualified.split('/');
  const identity = principal.startsWith('spiffe://') ? principal : `spiffe://${principal}`;
  return new RegExp(`^spiffe://.+/ns/${escapeRegex(ns)}/(.+/|)sa/${escapeRegex(sa)}(/.+)?$`, 's').test(identity);
}
