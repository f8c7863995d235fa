import { describe, expect, it } from '@jest/globals';
import { effectiveMtls, inboundTransport, namespaceMtls } from '../../src/model/index.js';
import { parsed } from './fixtures.js';

const httpbin = { namespace: 'foo', labels: { app: 'httpbin' }, port: 8000 };
const mesh = (mode: string, order = 0) => parsed('PeerAuthentication', 'istio-system', 'default', { mtls: { mode } }, order);
const ns = (mode: string, order = 1, name = 'default', ts?: string) => parsed('PeerAuthentication', 'foo', name, { mtls: { mode } }, order, ts);
const workload = (spec: object, order = 2, name = 'httpbin', ts?: string) =>
  parsed('PeerAuthentication', 'foo', name, { selector: { matchLabels: { app: 'httpbin' } }, ...spec }, order, ts);

describe('effectiveMtls (istio.io concepts/security "Peer authentication" precedence, tasks/security/authentication/mtls-migration)', () => {
  it('defaults to PERMISSIVE with no policy', () => {
    expect(effectiveMtls(httpbin, [])).toMatchObject({ mode: 'PERMISSIVE', level: 'default' });
  });

  it('mesh-wide STRICT in the root namespace applies to every namespace (mtls-migration "Lock down mutual TLS for the entire mesh")', () => {
    expect(effectiveMtls(httpbin, [mesh('STRICT')])).toMatchObject({ mode: 'STRICT', level: 'mesh', policy: { namespace: 'istio-system' } });
    expect(effectiveMtls({ ...httpbin, namespace: 'legacy' }, [mesh('STRICT')]).mode).toBe('STRICT');
  });

  it('namespace policy overrides mesh; workload overrides namespace', () => {
    expect(effectiveMtls(httpbin, [mesh('STRICT'), ns('PERMISSIVE')])).toMatchObject({ mode: 'PERMISSIVE', level: 'namespace' });
    expect(effectiveMtls(httpbin, [mesh('PERMISSIVE'), ns('STRICT'), workload({ mtls: { mode: 'DISABLE' } })])).toMatchObject({
      mode: 'DISABLE',
      level: 'workload',
      policy: { name: 'httpbin' },
    });
  });

  it('a namespace policy does not reach other namespaces, a workload policy not other workloads', () => {
    expect(effectiveMtls({ ...httpbin, namespace: 'bar' }, [ns('STRICT')]).mode).toBe('PERMISSIVE');
    expect(effectiveMtls({ ...httpbin, labels: { app: 'sleep' } }, [workload({ mtls: { mode: 'STRICT' } })]).mode).toBe('PERMISSIVE');
  });

  it('UNSET inherits from the parent level', () => {
    const d = effectiveMtls(httpbin, [mesh('STRICT'), ns('UNSET'), workload({ mtls: { mode: 'UNSET' } })]);
    expect(d).toMatchObject({ mode: 'STRICT', level: 'mesh' });
    expect(d.trace.filter((t) => t.includes('UNSET'))).toHaveLength(2);
  });

  it('portLevelMtls overrides the workload mode for that port only (authentication docs: DISABLE on port 80 under STRICT)', () => {
    const policies = [ns('STRICT'), workload({ mtls: { mode: 'STRICT' }, portLevelMtls: { '80': { mode: 'DISABLE' } } })];
    expect(effectiveMtls({ ...httpbin, port: 80 }, policies)).toMatchObject({ mode: 'DISABLE', level: 'port' });
    expect(effectiveMtls({ ...httpbin, port: 8000 }, policies)).toMatchObject({ mode: 'STRICT', level: 'workload' });
  });

  it('portLevelMtls UNSET inherits the workload (or inherited) mode', () => {
    const policies = [ns('STRICT'), workload({ portLevelMtls: { '80': { mode: 'UNSET' } } })];
    expect(effectiveMtls({ ...httpbin, port: 80 }, policies)).toMatchObject({ mode: 'STRICT', level: 'namespace' });
  });

  it('two workload policies: the oldest wins by creationTimestamp, else by input order', () => {
    const newer = workload({ mtls: { mode: 'STRICT' } }, 0, 'newer', '2024-05-02T00:00:00Z');
    const older = workload({ mtls: { mode: 'DISABLE' } }, 1, 'older', '2024-05-01T00:00:00Z');
    const d = effectiveMtls(httpbin, [newer, older]);
    expect(d).toMatchObject({ mode: 'DISABLE', policy: { name: 'older' } });
    expect(d.trace.some((t) => t.includes('newer') && t.includes('wins because it is older'))).toBe(true);
    expect(
      effectiveMtls(httpbin, [workload({ mtls: { mode: 'STRICT' } }, 0, 'first'), workload({ mtls: { mode: 'DISABLE' } }, 1, 'second')]).mode,
    ).toBe('STRICT');
  });

  it('ignores selector policies in the root namespace (Istio treats them as neither mesh nor workload policy)', () => {
    const rootSelector = parsed('PeerAuthentication', 'istio-system', 'sel', {
      selector: { matchLabels: { app: 'httpbin' } },
      mtls: { mode: 'STRICT' },
    });
    expect(effectiveMtls(httpbin, [rootSelector]).mode).toBe('PERMISSIVE');
  });

  it('namespaceMtls ignores workload policies (what client auto mTLS consults)', () => {
    expect(namespaceMtls('foo', [ns('DISABLE'), workload({ mtls: { mode: 'STRICT' } })]).mode).toBe('DISABLE');
  });
});

describe('inboundTransport', () => {
  it('PERMISSIVE accepts both; STRICT rejects plaintext; DISABLE does not terminate mTLS', () => {
    expect(inboundTransport('PERMISSIVE', 'plaintext').kind).toBe('accept');
    expect(inboundTransport('PERMISSIVE', 'mtls').kind).toBe('accept');
    expect(inboundTransport('STRICT', 'plaintext').kind).toBe('reject');
    expect(inboundTransport('STRICT', 'mtls').kind).toBe('accept');
    expect(inboundTransport('DISABLE', 'plaintext').kind).toBe('accept');
    expect(inboundTransport('DISABLE', 'mtls').kind).toBe('not-terminated');
  });
});
