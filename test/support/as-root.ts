/**
 * The one guard for tests that need root: network namespaces, iptables, the lab, files owned by other uids. As
 * root they run (`npm test`, every CI run); otherwise, and in `npm run test:unit` (MESHPROBE_TEST_TIER=unit),
 * they are reported as skipped with the reason in their title, instead of failing on EPERM halfway through a lab.
 * Files whose every test needs root are also named `*.integration.test.ts`, which the unit tier does not load.
 */
import { spawnSync } from 'node:child_process';
import { describe } from '@jest/globals';

export const IS_ROOT = process.getuid?.() === 0;
const UNIT_TIER = process.env.MESHPROBE_TEST_TIER === 'unit';

export function describeAsRoot(title: string, body: () => void): void {
  if (IS_ROOT && !UNIT_TIER) describe(title, body);
  else describe.skip(`${title} (${UNIT_TIER ? 'needs root: not in the unit tier' : 'needs root'})`, body);
}

/**
 * The argv prefix that runs a program (from root) as a user root's permission overrides do not help: uid 65534
 * when that uid can reach `path` (this checkout's CLI), otherwise — a checkout under a private directory such as
 * /root or a mktemp directory — uid 0 without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, for which file modes apply
 * as to anyone (a root-owned mode 000 file is unreadable, a mode 0555 directory unwritable).
 */
export function unprivilegedPrefix(path: string): string[] {
  const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  const reaches = spawnSync(nobody[0]!, [...nobody.slice(1), process.execPath, '-e', 'require("node:fs").accessSync(process.argv[1])', path]);
  return reaches.status === 0 ? nobody : ['setpriv', '--bounding-set=-dac_override,-dac_read_search'];
}
