/**
 * audit's L7 bypass techniques probed on the lab (needs root): for a DENY on paths `/admin*` and on host
 * `web.example.com`, every variant's request is sent byte for byte and observed; each observation agrees with the
 * prediction, and the variants observed getting through while the canonical request is blocked — the BYPASSes —
 * are the ones Istio's normalization reference says each option lets through (unit cases in audit-l7.test.ts), plus
 * the host with a port (an exact `hosts` value; best practices, "Writing Host Match Policies") and a trailing dot.
 */
import { expect, test } from '@jest/globals';
import type { PathNormalization } from '../../src/model/index.js';
import { auditFindings, planAudit, predictAudit } from '../../src/predict/audit.js';
import { probeMatrix } from '../../src/predict/probe.js';
import { buildWorld } from '../../src/predict/world.js';
import { ensureAgentBundle } from '../targets/lab/helpers.js';
import { describeAsRoot } from '../support/as-root.js';
import { manifest } from './fixtures.js';

const selector = { selector: { matchLabels: { app: 'web' } } };
const resources = [
  manifest('AuthorizationPolicy', 'app', 'deny-admin', { ...selector, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] }),
  manifest('AuthorizationPolicy', 'app', 'deny-host', {
    ...selector,
    action: 'DENY',
    rules: [{ to: [{ operation: { hosts: ['web.example.com'] } }] }],
  }),
];

/** Observed BYPASSes per option: the path variants of audit-l7.test.ts's DENY_PATH, and the two host variants. */
const EXPECTED: Partial<Record<PathNormalization, string[]>> = {
  NONE: ['backslash', 'dot segment', 'double slash', 'encoded dot segment', 'encoded slash', 'percent-encoded letter', 'upper case'],
  BASE: ['double slash', 'encoded slash', 'upper case'],
};
const HOST_BYPASSES = ['host with a trailing dot', 'host with port'];

describeAsRoot('audit L7 techniques on the lab', () => {
  test.each(Object.entries(EXPECTED))(
    'pathNormalization %s: observed as predicted, the BYPASSes Istio documents',
    async (option, paths) => {
      ensureAgentBundle();
      const input = {
        mesh: { pathNormalization: option as PathNormalization },
        namespaces: [{ name: 'app', sidecarInjection: true }],
        workloads: [
          { name: 'client', namespace: 'app', ports: [] },
          { name: 'web', namespace: 'app', ports: [{ port: 8080, protocol: 'http' as const }] },
        ],
        externals: [],
        resources,
      };
      const { world, errors } = buildWorld(input);
      expect(errors).toEqual([]);
      const plan = planAudit(world);
      const r = await probeMatrix(input, input.resources, predictAudit(world, plan), { target: 'lab', name: `audit-l7-${option.toLowerCase()}` });
      if (!r.ok) throw new Error(r.error);
      expect(r.matrix.cells.filter((c) => c.status !== 'agree').map((c) => `${c.name}: ${c.observed?.reason}`)).toEqual([]);
      const l7 = auditFindings(plan, r.matrix).filter((f) => f.variant !== undefined);
      expect(l7.length).toBeGreaterThan(10);
      // every variant was observed (not only predicted)
      expect(l7.filter((f) => f.observedThrough === undefined).map((f) => f.variant)).toEqual([]);
      const observed = l7
        .filter((f) => f.bypass && f.observedThrough === true)
        .map((f) => f.variant!.split(':')[0])
        .sort();
      expect(observed).toEqual([...paths, ...HOST_BYPASSES].sort());
    },
    120_000,
  );
});
