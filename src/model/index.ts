/**
 * The pure model of Istio's data-plane policy decisions (no I/O): parse manifests, report what is not modelled,
 * and decide inbound mTLS, authorization and outbound handling with explainable results.
 */
export * from './types.js';
export { parseResource, parseResources, SUPPORTED_API_VERSIONS, DEFAULT_NAMESPACE, type ParseResult, type ParsedResources } from './parse.js';
export { unsupportedFields, SUPPORTED_WHEN_KEYS } from './unsupported.js';
export { matchesPattern, ipInBlock, hostMatches, selectorMatches } from './match.js';
export {
  effectiveMtls,
  namespaceMtls,
  inboundTransport,
  type WorkloadPort,
  type MtlsDecision,
  type MtlsLevel,
  type ClientTransport,
  type InboundTransportDecision,
} from './peer-authentication.js';
export {
  authenticateRequest,
  requestAuthenticationsFor,
  requestAuthTest,
  isRequestAuthKey,
  audiencesOf,
  JWT_STATUS,
  CLOCK_SKEW_SECONDS,
  UNKNOWN_ISSUER_REJECTED_SINCE,
  SUPPORTED_JWT_ALGS,
  type RequestAuth,
  type JwtRequest,
  withoutParams,
  type AuthnDecision,
  type Forwarding,
} from './jwt.js';
export { createIssuer, runIssuer, withToken, TOKEN_LIFETIME_SECONDS, type JwtIssuer, type TokenSpec, type TokenPlacement } from './jwt-issuer.js';
export { matchRule, normalizePrincipal, namespaceOfPrincipal, type RuleResult } from './authz-rule.js';
export {
  authorize,
  policyApplies,
  denyResponse,
  type AuthzRequest,
  type AuthzDecision,
  type PolicyMatch,
  type DenyResponse,
} from './authorization.js';
export { sidecarFor, sidecarImports, exportedTo, serviceEntryFor, type ClientWorkload } from './registry.js';
export { releaseStatus, featureFlags, type ReleaseStatus, type FeatureFlag } from './istio-status.js';
export { destinationRuleFor, tlsForPort, resolveHost } from './destination-rule.js';
export { tlsVerification, SYSTEM_CA_SINCE, type TlsVerification, type CaSource } from './tls-verification.js';
export { outboundDecision, type OutboundInput, type OutboundDestination, type OutboundDecision } from './outbound.js';
export {
  normalizeRequest,
  normalizePath,
  canonicalPath,
  joinHeaders,
  PATH_NORMALIZATIONS,
  DEFAULT_PATH_NORMALIZATION,
  type PathNormalization,
  type WireRequest,
  type NormalizedRequest,
  type RejectedRequest,
  type PathResult,
} from './http-normalization.js';
export { remoteIpOf } from './remote-ip.js';
export { containsPathTemplate, pathTemplateError, pathTemplateMatches } from './path-template.js';
export { serviceAccountMatches, serviceAccountError } from './service-account.js';
export { fieldsNewerThan, SERVICE_ACCOUNTS_SINCE, PATH_TEMPLATES_SINCE } from './authz-versions.js';
