/**
 * The one guard for tests that need root: network namespaces, iptables, the lab, files owned by other uids. As
 * root they run (`npm test`, every CI run); otherwise, and in `npm run test:unit` (MESHPROBE_TEST_TIER=unit),
 * they are reported as skipped with the reason in their title, instead of failing on EPERM halfway through a lab.
 * Files whose every test needs root are also named `*.integration.test.ts`, which the unit tier does not load.
 */
import { describe } from '@jest/globals';

export const IS_ROOT = process.getuid?.() === 0;
const UNIT_TIER = process.env.MESHPROBE_TEST_TIER === 'unit';

export function describeAsRoot(title: string, body: () => void): void {
  if (IS_ROOT && !UNIT_TIER) describe(title, body);
  else describe.skip(`${title} (${UNIT_TIER ? 'needs root: not in the unit tier' : 'needs root'})`, body);
}
