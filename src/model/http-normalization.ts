/**
 * What an Istio sidecar's HTTP connection manager does to an HTTP/1 request before AuthorizationPolicy sees it, as
 * one pure function: the lab's sidecar and the predictor both call `normalizeRequest`, so they cannot disagree.
 *
 * Sources (each step below names its own):
 * - istio.io content/en/docs/reference/config/security/normalization/index.md ("Authorization Policy
 *   Normalization"): the %HH table, backslash, merged slashes, dot segments, query stripped for matching, method
 *   not upper case → 400, header names case-insensitive, duplicate headers joined with ",", white space in a header
 *   name → 400; and "the normalized request will be used for both the evaluation of authorization policies and the
 *   request that is ultimately sent to the backend server".
 * - istio.io content/en/docs/ops/best-practices/security/index.md, "Customize your system on path normalization":
 *   the four options and their order (decode %2F/%5C, then Envoy's normalize_path, then merge slashes).
 * - istio/istio pilot (networking/core listener builder, "Setup normalization"): NONE → normalize_path false;
 *   BASE (and DEFAULT) → normalize_path; MERGE_SLASHES → + merge_slashes; DECODE_AND_MERGE_SLASHES → +
 *   path_with_escaped_slashes_action UNESCAPE_AND_FORWARD; every other option KEEP_UNCHANGED.
 * - envoyproxy/envoy ConnectionManagerUtility::maybeNormalizePath (fragment, unescape slashes, canonicalPath,
 *   mergeSlashes, in that order) and source/common/chromium_url/url_canon_path.cc (normalize_path is Chromium's
 *   path canonicaliser: kPathCharLookup below is its table).
 * - istio/istio pkg/bootstrap/config.go sets envoy.reloadable_features.http_reject_path_with_fragment=false: a
 *   `#fragment` is stripped, not rejected.
 * - envoyproxy/envoy source/common/http/http1 (balsa_parser.cc isMethodValid, codec_impl.cc handlePath and the
 *   HTTP/1.0 check): the HTTP/1 codec accepts only its fixed method list (HPE_INVALID_METHOD → 400), answers
 *   HTTP/1.0 with 426 unless accept_http_10 is set (Istio sets it only with the HTTP10 node metadata), and for an
 *   absolute-form target takes :authority and :path from the URL (allow_absolute_url defaults to true).
 * Tested against the cases of istio/istio tests/integration/security TestNormalization and
 * TestAuthz_PathNormalization (test/model/http-normalization.test.ts).
 */

export const PATH_NORMALIZATIONS = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const;
export type PathNormalization = (typeof PATH_NORMALIZATIONS)[number];
/** meshConfig.pathNormalization.normalization when unset (DEFAULT means BASE). */
export const DEFAULT_PATH_NORMALIZATION: PathNormalization = 'BASE';

/** Envoy's HTTP/1 codec method list (balsa_parser.cc isMethodValid, allow_custom_methods false). */
const ENVOY_HTTP1_METHODS: ReadonlySet<string> = new Set([
  'ACL',
  'BIND',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LINK',
  'LOCK',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MOVE',
  'MSEARCH',
  'NOTIFY',
  'OPTIONS',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PURGE',
  'PUT',
  'REBIND',
  'REPORT',
  'SEARCH',
  'SOURCE',
  'SUBSCRIBE',
  'TRACE',
  'UNBIND',
  'UNLINK',
  'UNLOCK',
  'UNSUBSCRIBE',
]);

const PASS = 0;
const SPECIAL = 1;
const ESCAPE = 2 | SPECIAL;
const UNESCAPE = 4;
const INVALID = 8 | SPECIAL;

/** Chromium's kPathCharLookup (url_canon_path.cc, Envoy's snapshot), built from its character classes. */
const PATH_CHAR: readonly number[] = (() => {
  const t: number[] = new Array<number>(256).fill(ESCAPE); // controls, 0x7f and every high-bit byte
  t[0] = INVALID;
  for (const c of "!$&'()*+,/:;=@[]") t[c.charCodeAt(0)] = PASS;
  for (const c of ' "#%<>?\\^`{|}') t[c.charCodeAt(0)] = ESCAPE;
  for (let c = 0x30; c <= 0x39; c++) t[c] = UNESCAPE;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = UNESCAPE;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = UNESCAPE;
  for (const c of '-_~') t[c.charCodeAt(0)] = UNESCAPE;
  t[0x2e] = SPECIAL; // '.'
  return t;
})();

const isHex = (c: string | undefined) => c !== undefined && /^[0-9a-fA-F]$/.test(c);
const isSlash = (c: string | undefined) => c === '/' || c === '\\';
const escaped = (code: number) => `%${code.toString(16).toUpperCase().padStart(2, '0')}`;

/** Length of a dot at `i` (`.` → 1, `%2e`/`%2E` → 3), else 0 (Chromium IsDot). */
function dotAt(s: string, i: number): number {
  if (s[i] === '.') return 1;
  return s[i] === '%' && s[i + 1] === '2' && (s[i + 2] === 'e' || s[i + 2] === 'E') ? 3 : 0;
}

/** After a dot that follows a slash: is it `.`, `..` or part of a name, and how much input it consumes. */
function classifyAfterDot(s: string, afterDot: number): { kind: 'name' | 'current' | 'up'; consumed: number } {
  if (afterDot === s.length) return { kind: 'current', consumed: 0 };
  if (isSlash(s[afterDot])) return { kind: 'current', consumed: 1 };
  const second = dotAt(s, afterDot);
  if (second > 0) {
    const after = afterDot + second;
    if (after === s.length) return { kind: 'up', consumed: second };
    if (isSlash(s[after])) return { kind: 'up', consumed: second + 1 };
  }
  return { kind: 'name', consumed: 0 };
}

/** Drops the last segment of `out` (which ends in '/'), never above the first slash (BackUpToPreviousSlash). */
function backUp(out: string): string {
  if (out.length <= 1) return out;
  const i = out.lastIndexOf('/', out.length - 2);
  return out.slice(0, Math.max(i, 0) + 1);
}

/**
 * Chromium's CheckForNestedEscapes: when an unescaped character completes a '%' that did not start a valid escape
 * ("%%30" → "%0"), that '%' becomes "%25" so the output cannot be decoded into something else later.
 */
function fixNestedEscape(out: string, s: string, next: number, percentAt: number): string {
  const appendNext = percentAt === out.length - 2;
  let probe = out;
  if (appendNext) {
    if (next >= s.length || s.charCodeAt(next) >= 0x80) return out;
    probe = out + s[next];
  }
  if (!(isHex(probe[percentAt + 1]) && isHex(probe[percentAt + 2]))) return out;
  return `${out.slice(0, percentAt + 1)}25${out.slice(percentAt + 1)}`;
}

/**
 * Envoy's normalize_path (PathUtil::canonicalPath → Chromium CanonicalizePath) on the path without its query.
 * Returns undefined where Chromium reports failure (an escaped or raw NUL): Envoy then answers 400.
 */
export function canonicalPath(path: string): string | undefined {
  let out = isSlash(path[0]) || path.length === 0 ? '' : '/';
  if (path.length === 0) return '/';
  let ok = true;
  let lastInvalidPercent = Number.MIN_SAFE_INTEGER;
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code > 0xff) {
      // Chromium works on bytes: a character beyond Latin-1 is its UTF-8 bytes, each escaped.
      out += [...new TextEncoder().encode(path[i])].map(escaped).join('');
      continue;
    }
    const flags = PATH_CHAR[code] ?? ESCAPE;
    if (!(flags & SPECIAL)) {
      out += path[i];
      continue;
    }
    const dot = dotAt(path, i);
    if (dot > 0) {
      if (out.endsWith('/')) {
        const after = classifyAfterDot(path, i + dot);
        if (after.kind === 'name') out += '.';
        else if (after.kind === 'up') out = backUp(out);
        i += after.kind === 'name' ? dot - 1 : dot + after.consumed - 1;
      } else {
        out += '.';
        i += dot - 1;
      }
    } else if (path[i] === '\\') {
      out += '/';
    } else if (path[i] === '%') {
      if (isHex(path[i + 1]) && isHex(path[i + 2])) {
        const value = parseInt(path.slice(i + 1, i + 3), 16);
        const valueFlags = PATH_CHAR[value] ?? ESCAPE;
        if (valueFlags & UNESCAPE) {
          out += String.fromCharCode(value);
          if (lastInvalidPercent >= out.length - 3) out = fixNestedEscape(out, path, i + 3, lastInvalidPercent);
        } else {
          // Kept exactly as written (hex case included); an escaped NUL is a failure.
          out += path.slice(i, i + 3);
          if (valueFlags === INVALID) ok = false;
        }
        i += 2;
      } else {
        lastInvalidPercent = out.length;
        out += '%';
      }
    } else if (flags === INVALID) {
      out += escaped(code);
      ok = false;
    } else {
      out += escaped(code);
    }
  }
  return ok ? out : undefined;
}

/** Envoy PathUtil::unescapeSlashes: %2F %2f → '/', %5C %5c → '\' (path part only). */
export function unescapeSlashes(path: string): string {
  return path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
}

/**
 * Envoy PathUtil::mergeSlashes: split on '/', drop empty segments, keep one leading and one trailing slash. (So
 * "//" stays "//": Envoy's own quirk, kept.)
 */
export function mergeSlashes(path: string): string {
  if (!path.includes('//')) return path;
  const prefix = path.startsWith('/') ? '/' : '';
  const suffix = path.endsWith('/') ? '/' : '';
  return (
    prefix +
    path
      .split('/')
      .filter((s) => s.length > 0)
      .join('/') +
    suffix
  );
}

export type PathResult =
  | { readonly ok: true; readonly path: string; readonly steps: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/**
 * The path (with its query, without a fragment) after meshConfig.pathNormalization, in Envoy's order. The query is
 * never touched; only the part before the first '?' is normalised.
 */
export function normalizePath(target: string, option: PathNormalization): PathResult {
  const hash = target.indexOf('#');
  const noFragment = hash < 0 ? target : target.slice(0, hash);
  const steps: string[] = hash < 0 ? [] : [`fragment "${target.slice(hash)}" stripped`];
  const q = noFragment.indexOf('?');
  let path = q < 0 ? noFragment : noFragment.slice(0, q);
  const query = q < 0 ? '' : noFragment.slice(q);
  const step = (what: string, next: string) => {
    if (next !== path) steps.push(`${what}: ${path} → ${next}`);
    path = next;
  };
  if (option === 'DECODE_AND_MERGE_SLASHES') step('escaped slashes decoded', unescapeSlashes(path));
  if (option !== 'NONE') {
    const canonical = canonicalPath(path);
    if (canonical === undefined) return { ok: false, reason: `path ${path} contains a NUL (%00): Envoy's normalize_path rejects it` };
    step('normalize_path (RFC 3986)', canonical);
  }
  if (option === 'MERGE_SLASHES' || option === 'DECODE_AND_MERGE_SLASHES') step('slashes merged', mergeSlashes(path));
  return { ok: true, path: path + query, steps };
}

/** An HTTP/1 request as it arrived on the wire. */
export interface WireRequest {
  readonly method: string;
  /** The request-target exactly as sent: origin-form, absolute-form or `*`. */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  /** Header fields in arrival order, duplicates kept. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

export interface NormalizedRequest {
  readonly ok: true;
  readonly method: string;
  /** What the sidecar forwards: the normalised path with the query. */
  readonly path: string;
  /** What `paths`/`notPaths` match: the normalised path without the query. */
  readonly policyPath: string;
  /** :authority: the Host header, or the authority of an absolute-form target. */
  readonly host: string;
  /** Lower-case names; duplicates joined with "," (what `request.headers[...]` matches). */
  readonly headers: Readonly<Record<string, string>>;
  readonly steps: readonly string[];
}

export interface RejectedRequest {
  readonly ok: false;
  readonly status: 400 | 426;
  readonly body: string;
  readonly reason: string;
}

const reject = (status: 400 | 426, reason: string): RejectedRequest => ({
  ok: false,
  status,
  body: status === 426 ? 'Upgrade Required' : 'Bad Request',
  reason,
});

/** Header names joined as Envoy's header map does for matching: lower case, duplicates comma-joined in order. */
export function joinHeaders(headers: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    out[key] = out[key] === undefined ? value : `${out[key]},${value}`;
  }
  return out;
}

/** Origin-form path and authority of the target (codec_impl.cc handlePath), or a reason it is invalid. */
function splitTarget(req: WireRequest, headers: Record<string, string>): { path: string; host: string } | string {
  const t = req.target;
  if (t.startsWith('/') || (req.method === 'OPTIONS' && t === '*')) return { path: t, host: headers.host ?? '' };
  const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(t);
  if (!m?.[2]) return `request-target ${JSON.stringify(t)} is neither origin-form nor an absolute http(s) URL`;
  const rest = m[3] ?? '';
  return { host: m[2], path: rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}` };
}

/** The sidecar's view of one HTTP/1 request under `option`: the request to authorise and forward, or the error reply. */
export function normalizeRequest(req: WireRequest, option: PathNormalization = DEFAULT_PATH_NORMALIZATION): NormalizedRequest | RejectedRequest {
  if (!ENVOY_HTTP1_METHODS.has(req.method)) {
    return reject(400, `method ${JSON.stringify(req.method)} is not one Envoy's HTTP/1 codec accepts (methods are case-sensitive): 400`);
  }
  if (req.version === '1.0')
    return reject(426, 'HTTP/1.0: Istio does not set accept_http_10 (only with the HTTP10 proxy metadata), Envoy answers 426');
  const bad = req.headers.find(([name]) => /\s/.test(name) || name.length === 0);
  if (bad) return reject(400, `header name ${JSON.stringify(bad[0])} contains white space: 400`);
  const headers = joinHeaders(req.headers);
  const split = splitTarget(req, headers);
  if (typeof split === 'string') return reject(400, `${split}: 400`);
  if (split.host === '') return reject(400, 'HTTP/1.1 request without Host: 400');
  if (split.host !== headers.host) headers.host = split.host;
  const normalized = split.path === '*' ? { ok: true as const, path: '*', steps: [] } : normalizePath(split.path, option);
  if (!normalized.ok) return reject(400, `${normalized.reason}: 400`);
  const q = normalized.path.indexOf('?');
  return {
    ok: true,
    method: req.method,
    path: normalized.path,
    policyPath: q < 0 ? normalized.path : normalized.path.slice(0, q),
    host: split.host,
    headers,
    steps: normalized.steps,
  };
}
