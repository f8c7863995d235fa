/** The order a lab pod sends its batch in: destinations rotated to start after the source, nothing lost (pure). */
import { describe, expect, test } from '@jest/globals';
import { spreadOrder } from '../../../src/targets/lab/probe.js';
import type { ProbeAttempt } from '../../../src/targets/target.js';

const hosts = ['a', 'b', 'c', 'd'].map((key) => ({ key }));
const attempt = (from: string, to: string, port: number, n: number): ProbeAttempt =>
  ({
    probe: { name: `${from}-${to}-${port}`, from, to, port, protocol: 'tcp' },
    nonce: `${from}${to}${port}#${n}`,
    attempt: n,
  }) as unknown as ProbeAttempt;

describe('spreadOrder', () => {
  test('each source starts at the destination after itself, and keeps the order within a destination', () => {
    const batch = ['a', 'c', 'd'].flatMap((to) => [attempt('b', to, 80, 1), attempt('b', to, 81, 1), attempt('b', to, 80, 2)]);
    const out = spreadOrder(hosts, 'b', batch);
    expect(out.map((a) => a.nonce)).toEqual(['bc80#1', 'bc81#1', 'bc80#2', 'bd80#1', 'bd81#1', 'bd80#2', 'ba80#1', 'ba81#1', 'ba80#2']);
  });

  test('two sources begin with different destinations; every attempt is kept once', () => {
    const of = (from: string) => hosts.filter((h) => h.key !== from).map((h) => attempt(from, h.key, 80, 1));
    const fromA = spreadOrder(hosts, 'a', of('a'));
    const fromC = spreadOrder(hosts, 'c', of('c'));
    expect(fromA[0].probe.to).toBe('b');
    expect(fromC[0].probe.to).toBe('d');
    expect(new Set(fromA.map((a) => a.nonce))).toEqual(new Set(of('a').map((a) => a.nonce)));
    expect(fromA).toHaveLength(3);
  });
});
