/**
 * `authorize(request, policies)`: Istio's AuthorizationPolicy decision for one connection (TCP) or request (HTTP)
 * at the destination's sidecar (istio.io concepts/security "Authorization policy precedence"): DENY policies first —
 * any match denies; then ALLOW — no ALLOW policy applies → allow, a match → allow, otherwise deny. AUDIT policies
 * are evaluated and reported but never change the decision. CUSTOM is not modelled (unsupportedFields reports it);
 * it is skipped here with a trace line. Scope: a policy in the root namespace applies mesh-wide; elsewhere it applies
 * to its namespace; a selector narrows it to workloads whose labels match.
 */
import { isEmptySelector, selectorMatches } from './match.js';
import { matchRule, type AuthzRequest } from './authz-rule.js';
import { formatRef, refOf, type AuthorizationPolicy, type ResourceRef } from './types.js';
import { ROOT_NAMESPACE } from './mesh.js';

export type { AuthzRequest } from './authz-rule.js';

export interface PolicyMatch {
  readonly policy: ResourceRef;
  readonly ruleIndex: number;
  /** HTTP-only fields dropped because the traffic is TCP (DENY/AUDIT rules only). */
  readonly ignoredFields: readonly string[];
}

interface DecisionBase {
  /** Matched AUDIT rules: Envoy logs these, the decision is unaffected. */
  readonly audited: readonly PolicyMatch[];
  readonly reason: string;
  readonly trace: readonly string[];
}

export type AuthzDecision =
  | (DecisionBase & { readonly allowed: false; readonly action: 'DENY'; readonly kind: 'denied-by-policy'; readonly matched: PolicyMatch })
  | (DecisionBase & { readonly allowed: true; readonly action: 'ALLOW'; readonly kind: 'allowed-by-policy'; readonly matched: PolicyMatch })
  | (DecisionBase & { readonly allowed: true; readonly action: 'ALLOW'; readonly kind: 'no-allow-policy' })
  | (DecisionBase & {
      readonly allowed: false;
      readonly action: 'DENY';
      readonly kind: 'no-allow-match';
      readonly allowPolicies: readonly ResourceRef[];
    });

/** What the client observes when denied: HTTP 403 `RBAC: access denied`, TCP connection closed after accept. */
export type DenyResponse = { readonly kind: 'http'; readonly status: 403; readonly body: 'RBAC: access denied' } | { readonly kind: 'close' };

export function denyResponse(protocol: AuthzRequest['protocol']): DenyResponse {
  return protocol === 'http' ? { kind: 'http', status: 403, body: 'RBAC: access denied' } : { kind: 'close' };
}

/** Does the policy apply to this destination workload at all? */
export function policyApplies(policy: AuthorizationPolicy, destination: AuthzRequest['destination'], rootNamespace = ROOT_NAMESPACE): boolean {
  const ns = policy.metadata.namespace;
  if (ns !== rootNamespace && ns !== destination.namespace) return false;
  return isEmptySelector(policy.selector) || selectorMatches(policy.selector, destination.labels);
}

function firstMatch(policies: readonly AuthorizationPolicy[], request: AuthzRequest, trace: string[]): PolicyMatch | undefined {
  for (const policy of policies) {
    const name = formatRef(refOf(policy));
    if (policy.rules.length === 0) {
      trace.push(`${name} (${policy.action}) has no rules: matches nothing`);
      continue;
    }
    for (const [ruleIndex, rule] of policy.rules.entries()) {
      const result = matchRule(rule, request, policy.action);
      trace.push(`${name} (${policy.action}) rule ${ruleIndex}: ${result.reason}`);
      if (result.matched) return { policy: refOf(policy), ruleIndex, ignoredFields: result.ignored };
    }
  }
  return undefined;
}

function allMatches(policies: readonly AuthorizationPolicy[], request: AuthzRequest, trace: string[]): PolicyMatch[] {
  return policies.flatMap((policy) => {
    const match = firstMatch([policy], request, trace);
    return match ? [match] : [];
  });
}

function describe(match: PolicyMatch): string {
  const ignored = match.ignoredFields.length > 0 ? ` (HTTP-only ${match.ignoredFields.join(', ')} ignored on TCP)` : '';
  return `${match.policy.kind} ${match.policy.namespace}/${match.policy.name} rule ${match.ruleIndex}${ignored}`;
}

export function authorize(request: AuthzRequest, policies: readonly AuthorizationPolicy[], rootNamespace = ROOT_NAMESPACE): AuthzDecision {
  const trace: string[] = [];
  const applicable = policies.filter((p) => policyApplies(p, request.destination, rootNamespace));
  const byAction = (action: AuthorizationPolicy['action']) => applicable.filter((p) => p.action === action);
  for (const custom of byAction('CUSTOM')) trace.push(`${formatRef(refOf(custom))} (CUSTOM) is not modelled: skipped`);
  const audited = allMatches(byAction('AUDIT'), request, trace);

  const deny = firstMatch(byAction('DENY'), request, trace);
  if (deny) {
    return { allowed: false, action: 'DENY', kind: 'denied-by-policy', matched: deny, audited, trace, reason: `denied by ${describe(deny)}` };
  }
  const allowPolicies = byAction('ALLOW');
  if (allowPolicies.length === 0) {
    return {
      allowed: true,
      action: 'ALLOW',
      kind: 'no-allow-policy',
      audited,
      trace,
      reason: 'allowed: no DENY policy matched and no ALLOW policy applies to the workload',
    };
  }
  const allow = firstMatch(allowPolicies, request, trace);
  if (allow) {
    return { allowed: true, action: 'ALLOW', kind: 'allowed-by-policy', matched: allow, audited, trace, reason: `allowed by ${describe(allow)}` };
  }
  const refs = allowPolicies.map(refOf);
  return {
    allowed: false,
    action: 'DENY',
    kind: 'no-allow-match',
    allowPolicies: refs,
    audited,
    trace,
    reason: `denied: ALLOW policies apply (${refs.map(formatRef).join(', ')}) but none matches`,
  };
}
