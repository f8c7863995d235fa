/**
 * L7 bypass techniques in audit: for each rule matching paths, hosts, methods or headers, the variants and their
 * predicted outcome under every pathNormalization option (Istio's normalization reference: BASE resolves dot
 * segments and backslashes and decodes unreserved characters, MERGE_SLASHES merges "//", DECODE_AND_MERGE_SLASHES
 * also decodes %2F; matching stays case-sensitive), and BYPASS where a variant gets through while its canonical
 * request is blocked.
 */
import { describe, expect, test } from '@jest/globals';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../../src/model/index.js';
import { pathVariants } from '../../src/predict/audit-l7.js';
import { auditFindings, planAudit, predictAudit } from '../../src/predict/audit.js';
import { buildWorld } from '../../src/predict/world.js';

const ap = (name: string, spec: object) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name, namespace: 'app' },
  spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
});

function bypasses(option: PathNormalization, resources: object[]) {
  const built = buildWorld({
    mesh: { pathNormalization: option },
    namespaces: [{ name: 'app', sidecarInjection: true }],
    workloads: [
      { name: 'client', namespace: 'app', ports: [] },
      { name: 'web', namespace: 'app', ports: [{ port: 8080, protocol: 'http' }] },
    ],
    externals: [],
    resources: resources as never,
  });
  expect(built.errors).toEqual([]);
  const plan = planAudit(built.world);
  const findings = auditFindings(plan, predictAudit(built.world, plan)).filter((f) => f.variant !== undefined);
  return {
    findings,
    bypass: findings
      .filter((f) => f.bypass)
      .map((f) => f.variant!.split(':')[0])
      .sort(),
  };
}

const DENY_ADMIN = ap('deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] });

/** Which path variants of DENY /admin* get through, per option. */
const DENY_PATH: Record<PathNormalization, string[]> = {
  NONE: ['backslash', 'dot segment', 'double slash', 'encoded dot segment', 'encoded slash', 'percent-encoded letter', 'upper case'],
  BASE: ['double slash', 'encoded slash', 'upper case'],
  MERGE_SLASHES: ['encoded slash', 'upper case'],
  DECODE_AND_MERGE_SLASHES: ['upper case'],
};

describe('path variants', () => {
  test('the techniques of the best practices page, each different from the path', () => {
    expect(pathVariants('/admin').map(([, v]) => v)).toEqual([
      '//admin',
      '/admin/',
      '/ADMIN',
      '/meshprobe/../admin',
      '/meshprobe/%2e%2e/admin',
      '/admin?meshprobe',
      '/admin#meshprobe',
      '/meshprobe\\..\\admin',
      '/meshprobe%2F..%2Fadmin',
      '/%61dmin',
    ]);
    expect(pathVariants('/api/admin').find(([k]) => k === 'encoded slash')?.[1]).toBe('/api%2Fadmin');
  });

  for (const option of PATH_NORMALIZATIONS) {
    test(`DENY paths ["/admin*"] under ${option}: bypassed by ${DENY_PATH[option].join(', ')}`, () => {
      const { findings, bypass } = bypasses(option, [DENY_ADMIN]);
      expect(findings.find((f) => f.technique === 'l7-canonical')?.predictedThrough).toBe(false);
      expect(bypass).toEqual(DENY_PATH[option]);
    });
  }

  test('ALLOW paths ["/public*"] (CVE-2021-31920): escaping the prefix with dot segments works only without normalisation', () => {
    const allow = ap('allow-public', { action: 'ALLOW', rules: [{ to: [{ operation: { paths: ['/public*'] } }] }] });
    expect(bypasses('NONE', [allow]).bypass).toEqual([
      'backslashes out of the allowed prefix',
      'dot segment out of the allowed prefix',
      'encoded dot segment out of the allowed prefix',
      'encoded slashes out of the allowed prefix',
    ]);
    expect(bypasses('BASE', [allow]).bypass).toEqual(['encoded slashes out of the allowed prefix']);
    expect(bypasses('DECODE_AND_MERGE_SLASHES', [allow]).bypass).toEqual([]);
  });
});

describe('hosts, methods, headers (DENY)', () => {
  const deny = ap('deny-misc', {
    action: 'DENY',
    rules: [
      { to: [{ operation: { hosts: ['web.example.com'] } }, { operation: { methods: ['DELETE'] } }] },
      { when: [{ key: 'request.headers[x-role]', values: ['guest'] }] },
    ],
  });
  test('host case matches as Istio matches it; a port, a trailing dot and a duplicated header get through', () => {
    // exact `hosts` match the :authority as sent (istio.io best practices, "Writing Host Match Policies")
    for (const option of PATH_NORMALIZATIONS) {
      expect(bypasses(option, [deny]).bypass).toEqual(['duplicated header (joined "guest,meshprobe")', 'host with a trailing dot', 'host with port']);
    }
  });
  test('a lower-case method is refused by the codec (400), never a bypass', () => {
    const m = bypasses('BASE', [deny]).findings.find((f) => f.technique === 'l7-method');
    expect(m).toMatchObject({ predictedThrough: false, bypass: false });
  });
  test("canonical requests carry the operation's other fields, so they match the rule", () => {
    const both = ap('deny-both', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'], methods: ['POST'] } }] }] });
    const { findings } = bypasses('BASE', [both]);
    const canonical = findings.find((f) => f.technique === 'l7-canonical' && f.variant === 'path /admin')!;
    expect(canonical.cell.flow.http?.raw?.method).toBe('POST');
    expect(canonical.predictedThrough).toBe(false);
  });
});
