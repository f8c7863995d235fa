/**
 * On a cluster no JWKS endpoint serves the run's issuer, so a RequestAuthentication rule that names neither `jwks`
 * nor `jwksUri` gets the run's public JWKS inline (model/jwt-issuer.ts): the same scenario then verifies the same
 * probe tokens on the lab, kind and an existing cluster. Rules with their own keys are left as written.
 */
import { runIssuer } from '../../model/jwt-issuer.js';

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

export function withRunJwks<T extends { kind: string }>(manifest: T): T {
  if (manifest.kind !== 'RequestAuthentication') return manifest;
  const spec = (manifest as unknown as Raw)['spec'];
  if (!isObject(spec) || !Array.isArray(spec['jwtRules'])) return manifest;
  const jwtRules = spec['jwtRules'].map((rule) =>
    isObject(rule) && rule['jwks'] === undefined && rule['jwksUri'] === undefined ? { ...rule, jwks: runIssuer().jwks } : rule,
  );
  return { ...manifest, spec: { ...spec, jwtRules } };
}
