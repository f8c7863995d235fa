import { describe, expect, it } from '@jest/globals';
import { authorize, type AuthzRequest } from '../../src/model/index.js';
import {
  canonicalPath,
  mergeSlashes,
  normalizePath,
  normalizeRequest,
  PATH_NORMALIZATIONS,
  type PathNormalization,
  type WireRequest,
} from '../../src/model/http-normalization.js';
import { parsed } from './fixtures.js';

const path = (p: string, option: PathNormalization) => {
  const r = normalizePath(p, option);
  return r.ok ? r.path : '400';
};

/**
 * istio/istio tests/integration/security (normalization test, `TestNormalization`): the path the echo backend
 * received for each input under each option. Cases copied as data, the expected values are Istio's.
 */
const ISTIO_CASES: Record<PathNormalization, ReadonlyArray<readonly [string, string]>> = {
  NONE: [
    ['/', '/'],
    ['/app#foo', '/app'],
    ['/app/', '/app/'],
    ['/app/../admin', '/app/../admin'],
    ['/app', '/app'],
    ['/app//', '/app//'],
    ['/app/%2f', '/app/%2f'],
    ['/app%2f/', '/app%2f/'],
    ['/xyz%30..//abc', '/xyz%30..//abc'],
    ['/app/%2E./admin', '/app/%2E./admin'],
    ['/app\\admin', '/app\\admin'],
    ['/app/\\/\\/\\admin', '/app/\\/\\/\\admin'],
    ['/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc'],
    ['/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc', '/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc'],
    ['/app//../admin', '/app//../admin'],
    ['/app//../../admin', '/app//../../admin'],
  ],
  BASE: [
    ['/', '/'],
    ['/app#foo', '/app'],
    ['/app/', '/app/'],
    ['/app/../admin', '/admin'],
    ['/app', '/app'],
    ['/app//', '/app//'],
    ['/app/%2f', '/app/%2f'],
    ['/app%2f/', '/app%2f/'],
    ['/xyz%30..//abc', '/xyz0..//abc'],
    ['/app/%2E./admin', '/admin'],
    ['/app\\admin', '/app/admin'],
    ['/app/\\/\\/\\admin', '/app//////admin'],
    ['/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc'],
    ['/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc', '/%5Capp%2f%5c%2F..%2fadmin%5c/abc'],
    ['/app//../admin', '/app/admin'],
    ['/app//../../admin', '/admin'],
  ],
  MERGE_SLASHES: [
    ['/', '/'],
    ['/app#foo', '/app'],
    ['/app/', '/app/'],
    ['/app/../admin', '/admin'],
    ['/app', '/app'],
    ['/app//', '/app/'],
    ['/app/%2f', '/app/%2f'],
    ['/app%2f/', '/app%2f/'],
    ['/xyz%30..//abc', '/xyz0../abc'],
    ['/app/%2E./admin', '/admin'],
    ['/app\\admin', '/app/admin'],
    ['/app/\\/\\/\\admin', '/app/admin'],
    ['/%2Fapp%5cadmin%5Cabc', '/%2Fapp%5cadmin%5Cabc'],
    ['/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc', '/%5Capp%2f%5c%2F..%2fadmin%5c/abc'],
    ['/app//../admin', '/app/admin'],
    ['/app//../../admin', '/admin'],
  ],
  DECODE_AND_MERGE_SLASHES: [
    ['/', '/'],
    ['/app#foo', '/app'],
    ['/app/', '/app/'],
    ['/app/../admin', '/admin'],
    ['/app', '/app'],
    ['/app//', '/app/'],
    ['/app/%2f', '/app/'],
    ['/app%2f/', '/app/'],
    ['/xyz%30..//abc', '/xyz0../abc'],
    ['/app/%2E./admin', '/admin'],
    ['/app\\admin', '/app/admin'],
    ['/app/\\/\\/\\admin', '/app/admin'],
    ['/%2Fapp%5cadmin%5Cabc', '/app/admin/abc'],
    ['/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\\abc', '/app/admin/abc'],
    ['/app//../admin', '/app/admin'],
    ['/app//../../admin', '/admin'],
    ['/%c0%2e%c0%2e/admin', '/%c0.%c0./admin'],
    ['/%c0%2fadmin', '/%c0/admin'],
  ],
};

/** Same test, "NotNormalized" group (DECODE_AND_MERGE_SLASHES): encodings Istio deliberately leaves alone. */
const NOT_NORMALIZED = [
  '/0x2e0x2e/admin',
  '/0x2e0x2e0x2fadmin',
  '/0x2e0x2e0x5cadmin',
  '/0x2f0x2fadmin',
  '/0x5c0x5cadmin',
  '/%25c0%25ae%25c1%259cadmin',
  '/%25c0%25ae%25c0%25ae/admin',
  '/%25c0%25afadmin',
  '/%25c1%259cadmin',
  '/%252e%252e/admin',
  '/%252e%252e%252fadmin',
  '/%c1%9cadmin',
  '/%c0%ae%c0%ae/admin',
  '/%c0%afadmin',
  '/.../admin',
  '/..../admin',
  '/..;/admin',
  '/;/admin',
  '/admin;a=b',
  '/admin;a=b/xyz',
  '/admin,a=b/xyz',
  '/Admin',
  '/ADMIN',
];

describe('normalizePath: istio/istio TestNormalization, every option', () => {
  for (const option of PATH_NORMALIZATIONS) {
    it.each(ISTIO_CASES[option])(`${option}: %s → %s`, (input, output) => {
      expect(path(input, option)).toBe(output);
    });
  }

  it.each(NOT_NORMALIZED)('NotNormalized (DECODE_AND_MERGE_SLASHES): %s is left as is', (input) => {
    expect(path(input, 'DECODE_AND_MERGE_SLASHES')).toBe(input);
  });

  it('PercentEncoded (DECODE_AND_MERGE_SLASHES): /admin%XX for every byte 01-ff, decoded only for the documented set', () => {
    // Istio's supportedPercentEncode: - . / \ _ ~ 0-9 A-Z a-z; %5c decodes to '\' which then becomes '/'.
    const supported = (i: number) =>
      [0x2d, 0x2e, 0x2f, 0x5c, 0x5f, 0x7e].includes(i) || (i >= 0x30 && i <= 0x39) || (i >= 0x41 && i <= 0x5a) || (i >= 0x61 && i <= 0x7a);
    for (let i = 1; i <= 0xff; i++) {
      const input = `/admin%${i.toString(16).padStart(2, '0')}`;
      const decoded = i === 0x5c ? '/admin/' : `/admin${String.fromCharCode(i)}`;
      expect([input, path(input, 'DECODE_AND_MERGE_SLASHES')]).toEqual([input, supported(i) ? decoded : input]);
    }
  });

  it('Invalid: /admin%00 → 400 under every option that normalises (normalization reference: "%00 … always rejected")', () => {
    for (const option of ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) expect(path('/admin%00', option)).toBe('400');
  });

  it('normalization reference examples (istio.io reference/config/security/normalization)', () => {
    expect(path('/some%2fdata/%61%62%63', 'DECODE_AND_MERGE_SLASHES')).toBe('/some/data/abc');
    expect(path('/some\\data', 'BASE')).toBe('/some/data');
    expect(path('/some//data///abc', 'MERGE_SLASHES')).toBe('/some/data/abc');
    expect(path('/public/./data/abc/../xyz', 'BASE')).toBe('/public/data/xyz');
    // "Path with query": the query is kept for the backend and never normalised.
    expect(path('/a/../b?x=/../y', 'BASE')).toBe('/b?x=/../y');
  });

  it('only one decoding: %252e stays %252e (no double decoding)', () => {
    expect(path('/%252e%252e/admin', 'BASE')).toBe('/%252e%252e/admin');
  });

  it('Chromium details: raw characters it escapes, nested escapes, a path without a leading slash', () => {
    expect(canonicalPath('/a b"<>^`{|}')).toBe('/a%20b%22%3C%3E%5E%60%7B%7C%7D');
    expect(canonicalPath('/%%30%30')).toBe('/%2500');
    expect(canonicalPath('a/b')).toBe('/a/b');
    expect(mergeSlashes('//')).toBe('//');
  });
});

describe('normalizeRequest: method, version, headers, request-target forms', () => {
  const req = (over: Partial<WireRequest>): WireRequest => ({
    method: 'GET',
    target: '/',
    version: '1.1',
    headers: [['Host', 'server.app:8080']],
    ...over,
  });

  it('method not upper case, or not one Envoy knows → 400 (normalization reference "Method not in upper case")', () => {
    expect(normalizeRequest(req({ method: 'get' }))).toMatchObject({ ok: false, status: 400 });
    expect(normalizeRequest(req({ method: 'Get' }))).toMatchObject({ ok: false, status: 400 });
    expect(normalizeRequest(req({ method: 'QUERY' }))).toMatchObject({ ok: false, status: 400 });
    expect(normalizeRequest(req({ method: 'DELETE' }))).toMatchObject({ ok: true, method: 'DELETE' });
  });

  it('HTTP/1.0 → 426 (Envoy codec, accept_http_10 unset in Istio)', () => {
    expect(normalizeRequest(req({ version: '1.0', headers: [] }))).toMatchObject({ ok: false, status: 426, body: 'Upgrade Required' });
  });

  it('HTTP/1.1 without Host → 400; white space in a header name → 400', () => {
    expect(normalizeRequest(req({ headers: [] }))).toMatchObject({ ok: false, status: 400 });
    expect(
      normalizeRequest(
        req({
          headers: [
            ['Host', 'a'],
            ['x y', '1'],
          ],
        }),
      ),
    ).toMatchObject({ ok: false, status: 400 });
  });

  it('header names compared case-insensitively, duplicates joined with "," (normalization reference "Duplicate headers")', () => {
    const r = normalizeRequest(
      req({
        headers: [
          ['Host', 'a'],
          ['X-Header', 'foo'],
          ['x-header', 'bar'],
        ],
      }),
    );
    expect(r).toMatchObject({ ok: true, headers: { host: 'a', 'x-header': 'foo,bar' } });
  });

  it('absolute-form: :authority and :path come from the URL, the Host header is replaced (RFC 7230 5.4, Envoy handlePath)', () => {
    const r = normalizeRequest(req({ target: 'http://Other.App:81/x/../admin?q=1', headers: [['Host', 'server.app']] }));
    expect(r).toMatchObject({ ok: true, host: 'Other.App:81', path: '/admin?q=1', policyPath: '/admin', headers: { host: 'Other.App:81' } });
    expect(normalizeRequest(req({ target: 'http://h' }))).toMatchObject({ ok: true, path: '/' });
    expect(normalizeRequest(req({ target: 'admin' }))).toMatchObject({ ok: false, status: 400 });
  });

  it('policyPath has no query; path (forwarded) keeps it', () => {
    expect(normalizeRequest(req({ target: '/a/%2e%2e/b?c=d#e' }))).toMatchObject({ ok: true, path: '/b?c=d', policyPath: '/b' });
  });
});

/** istio/istio tests/integration/security/authz_test.go TestAuthz_PathNormalization, through authorize(). */
describe('TestAuthz_PathNormalization: ALLOW paths ["/public*"] methods ["GET"] under the default (BASE)', () => {
  const policy = parsed('AuthorizationPolicy', 'app', 'b', {
    selector: { matchLabels: { app: 'b' } },
    rules: [{ to: [{ operation: { paths: ['/public*'], methods: ['GET'] } }] }],
  });
  const decide = (target: string, option: PathNormalization = 'BASE'): boolean => {
    const n = normalizeRequest({ method: 'GET', target, version: '1.1', headers: [['host', 'b.app']] }, option);
    if (!n.ok) throw new Error(n.reason);
    const request: AuthzRequest = {
      destination: { namespace: 'app', labels: { app: 'b' }, port: 80 },
      source: { ip: '10.0.0.1' },
      protocol: 'http',
      http: { method: n.method, path: n.policyPath, host: n.host, headers: n.headers },
    };
    return authorize(request, [policy]).allowed;
  };
  const CASES: ReadonlyArray<readonly [string, boolean]> = [
    ['/public', true],
    ['/public/../public', true],
    ['/private', false],
    ['/public/../private', false],
    ['/public/./../private', false],
    ['/public/.././private', false],
    ['/public/%2E%2E/private', false],
    ['/public/%2e%2e/private', false],
    ['/public/%2E/%2E%2E/private', false],
    ['/public/%2e/%2e%2e/private', false],
    ['/public/%2E%2E/%2E/private', false],
    ['/public/%2e%2e/%2e/private', false],
  ];
  it.each(CASES)('%s → allowed %s', (target, allowed) => {
    expect(decide(target)).toBe(allowed);
  });

  it('with NONE the same dot-segment paths are allowed: the bypass the default closes', () => {
    expect(decide('/public/../private', 'NONE')).toBe(true);
    expect(decide('/public/%2e%2e/private', 'NONE')).toBe(true);
  });
});
