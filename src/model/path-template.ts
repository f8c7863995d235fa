/**
 * AuthorizationPolicy path templates (`paths` / `notPaths` containing `{*}` or `{**}`), since Istio 1.22
 * (istio/istio#50365). Istio validates them (pkg/config/security CheckValidPathTemplate), replaces `{*}` by `*` and
 * `{**}` by `**`, and hands them to Envoy's uri_template matcher, which compiles them to a regular expression
 * (source/extensions/path/uri_template_lib/uri_template_internal.cc) matched in full against the path without its
 * query and fragment:
 * - `{*}`: one path segment, at least one character, no `/` (`[pchar]+`);
 * - `{**}`: zero or more segments, slashes included (`[pchar/]*`); no operator may follow it (literals may);
 * - every other segment is a literal, compared byte for byte.
 * So `/allow/admin/{**}` matches `/allow/admin/` but not `/allow/admin`, and `/store/{**}/cart` matches
 * `/store//cart` but not `/store/cart` (tests/integration/security/authz_test.go TestAuthz_PathTemplating).
 */

export const MATCH_ONE = '{*}';
export const MATCH_ANY = '{**}';

/** Envoy's `kLiteral`: RFC 3986 pchar without `*` and `=`. */
const ENVOY_PCHAR = "a-zA-Z0-9\\-._~%!$&'()+,;:@";
/** Istio's validLiteral (pchar including `=`). */
const ISTIO_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

export function containsPathTemplate(value: string): boolean {
  return value.includes(MATCH_ONE) || value.includes(MATCH_ANY);
}

/**
 * Istio's validation of `paths` / `notPaths` (`key`), with its messages; undefined when every path is valid.
 * A path without a template is only checked for stray braces.
 */
export function pathTemplateError(key: string, paths: readonly string[]): string | undefined {
  for (const original of paths) {
    const template = containsPathTemplate(original);
    const path = original.replace(/^\/+|\/+$/g, '');
    let seenAny = false;
    for (const glob of path.split('/')) {
      if ((glob === MATCH_ONE || glob === MATCH_ANY) && seenAny) {
        return `invalid or unsupported path ${path}, found in ${key}. {**} is not the last operator`;
      }
      if (glob === MATCH_ONE) continue;
      if (glob === MATCH_ANY) {
        seenAny = true;
        continue;
      }
      if (/[{}]/.test(glob)) {
        return `invalid or unsupported path ${path}, found in ${key}. Contains '{' or '}' beyond a supported path template`;
      }
      if (template && !ISTIO_LITERAL.test(glob)) {
        return `invalid or unsupported path ${path}, found in ${key}. Contains segment ${glob} with invalid string literal`;
      }
    }
    // Envoy rejects a template that does not start with "/" (uri_template parseURLPatternSyntax); Istio lets it through.
    if (template && !original.startsWith('/')) return `invalid path template ${original}, found in ${key}: it must start with "/"`;
  }
  return undefined;
}

const escapeRegex = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

function templateRegex(template: string): RegExp {
  const segments = template.slice(1).split('/');
  const body = segments.map((s) => (s === MATCH_ONE ? `[${ENVOY_PCHAR}]+` : s === MATCH_ANY ? `[${ENVOY_PCHAR}/]*` : escapeRegex(s))).join('/');
  return new RegExp(`^/${body}$`);
}

/** Does `path` (the normalised request path; query and fragment are dropped here) match a valid `template`? */
export function pathTemplateMatches(template: string, path: string | undefined): boolean {
  if (path === undefined) return false;
  return templateRegex(template).test(path.replace(/[?#].*$/s, ''));
}
