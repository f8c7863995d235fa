/** Load-time checks of AuthorizationPolicy values Istio's validation rejects: service accounts, path templates, IP conditions. */
import { describe, expect, it } from '@jest/globals';
import { validateResource } from '../../src/scenario/resources.js';

const policy = (spec: object) =>
  validateResource({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'x', namespace: 'app' }, spec }).then(
    (issues) => issues.map((i) => [i.path.join('.'), i.message]),
  );

describe('AuthorizationPolicy values', () => {
  it('accepts serviceAccounts, path templates and IP conditions as Istio does', async () => {
    const spec = {
      rules: [
        {
          from: [{ source: { serviceAccounts: ['ns/sa', 'sa'], notServiceAccounts: ['other/sa'] } }],
          to: [{ operation: { paths: ['/a/{*}/b/{**}', '/{**}/cart', '/prefix/*'], notPaths: ['/x/{**}'] } }],
          when: [
            { key: 'destination.ip', values: ['10.0.0.1', '10.1.0.0/16'] },
            { key: 'connection.sni', values: ['outbound_.8080_._.*'] },
          ],
        },
      ],
    };
    expect(await policy(spec)).toEqual([]);
  });

  it('names the field and gives Istio’s reason', async () => {
    const spec = {
      rules: [
        {
          from: [{ source: { serviceAccounts: ['ns/*'], notServiceAccounts: ['a/b/c'] } }],
          to: [{ operation: { paths: ['/{**}/{*}'], notPaths: ['/a/{x}'] } }],
          when: [{ key: 'destination.ip', values: ['10.0.0.0/33'] }],
        },
      ],
    };
    const issues = await policy(spec);
    expect(issues.map(([path]) => path)).toEqual([
      'spec.rules.0.from.0.source.serviceAccounts.0',
      'spec.rules.0.from.0.source.notServiceAccounts.0',
      'spec.rules.0.to.0.operation.paths.0',
      'spec.rules.0.to.0.operation.notPaths.0',
      'spec.rules.0.when.0.values.0',
    ]);
    expect(issues[0]?.[1]).toBe('wildcard not allowed, found in serviceAccounts');
    expect(issues[2]?.[1]).toContain('{**} is not the last operator');
  });
});
