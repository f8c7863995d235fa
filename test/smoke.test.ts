import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { scenario } from '../src/scenario/schema.js';

describe('project skeleton', () => {
  it('loads the ESM-only Kubernetes client under jest', () => {
    expect(typeof k8s.KubeConfig).toBe('function');
  });
  it('rejects an unknown top-level field in a scenario', () => {
    const r = scenario.safeParse({ apiVersion: 'meshprobe.io/v1', kind: 'Scenario', metadata: { name: 'x' }, spek: {} });
    expect(r.success).toBe(false);
  });
});
