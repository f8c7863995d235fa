/**
 * The one guard for tests that need root: network namespaces, iptables, the lab. As root (every CI run) they run;
 * otherwise they are reported as skipped with the reason in their title, instead of failing on EPERM halfway
 * through a lab. Such tests live in `*.integration.test.ts` files, which `npm run test:unit` leaves out.
 */
import { describe } from '@jest/globals';

export const IS_ROOT = process.getuid?.() === 0;

type Body = () => void;

export function describeAsRoot(title: string, body: Body): void {
  if (IS_ROOT) describe(title, body);
  else describe.skip(`${title} (needs root)`, body);
}
