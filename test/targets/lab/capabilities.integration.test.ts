/**
 * Capabilities of non-root containers, with real traffic on the lab (needs root). Kubernetes gives a container's
 * non-root process no effective capability whatever is added (kubernetes/kubernetes#56374; Docker:
 * `--cap-add NET_ADMIN --user 1000` → iptables "Permission denied", `--cap-add SETUID --user 1000` → setpriv
 * "Operation not permitted"; uid 0 works). REGISTRY_ONLY makes capture observable: through the sidecar an
 * undeclared host gets HTTP 502, around it the request arrives.
 */
import { describe, expect, test } from '@jest/globals';
import { attempts, makeScenario } from './helpers.js';
import { deployedLab, seen } from './mesh-helpers.js';

const scenario = makeScenario('capabilities', {
  mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' },
  namespaces: [{ name: 'app' }],
  workloads: [
    { name: 'root-admin', namespace: 'app', runAsUser: 0, capabilities: ['NET_ADMIN'] },
    { name: 'user-admin', namespace: 'app', runAsUser: 1000, capabilities: ['NET_ADMIN', 'SETUID', 'SETGID'] },
  ],
  externals: [{ name: 'undeclared.example.test', ports: [{ port: 80, protocol: 'http' }] }],
  probes: [
    { name: 'root-captured', from: 'app/root-admin', to: 'undeclared.example.test', port: 80, protocol: 'http', expect: { reach: false } },
    {
      name: 'root-flush',
      from: 'app/root-admin',
      to: 'undeclared.example.test',
      port: 80,
      protocol: 'http',
      bypass: 'flush-capture',
      expect: { reach: true },
    },
    {
      name: 'root-as-1337',
      from: 'app/root-admin',
      to: 'undeclared.example.test',
      port: 80,
      protocol: 'http',
      as: { user: 1337 },
      expect: { reach: true },
    },
  ],
});

const lab = deployedLab(scenario);
const r = (name: string) => seen(lab.ran.results.get(name));

describe('NET_ADMIN', () => {
  test('uid 0 with NET_ADMIN flushes its capture rules: the request goes around its sidecar and arrives', () => {
    expect(r('root-captured')).toMatchObject({ reached: false, outcome: 'http-502' });
    expect(r('root-flush')).toMatchObject({ reached: true, outcome: 'ok' });
  });
  test('uid 1000 with NET_ADMIN added cannot flush (iptables: Permission denied): an ERROR, never a probe sent captured', async () => {
    const probe = {
      name: 'user-flush',
      from: 'app/user-admin',
      to: 'undeclared.example.test',
      port: 80,
      protocol: 'http' as const,
      bypass: 'flush-capture' as const,
      expect: { reach: false },
    };
    const batch = attempts({ ...scenario, spec: { ...scenario.spec, probes: [probe] } });
    await expect(lab.ran.target.probe(lab.ran.d, batch)).rejects.toThrow(
      /flush-capture \(iptables -t nat -F\) in app\/user-admin failed .*(Permission denied|not permitted)/,
    );
  });
});

describe('SETUID/SETGID (a probe as another uid)', () => {
  test('a container running as uid 0 starts the process as uid 1337, which its sidecar does not capture', () => {
    expect(r('root-as-1337')).toMatchObject({ reached: true, outcome: 'ok' });
  });
  test('a container running as uid 1000 cannot, even with SETUID and SETGID added: setpriv fails for real', async () => {
    const probe = {
      name: 'user-as-1337',
      from: 'app/user-admin',
      to: 'undeclared.example.test',
      port: 80,
      protocol: 'http' as const,
      as: { user: 1337 },
      expect: { reach: true },
    };
    const withUserProbe = { ...scenario, spec: { ...scenario.spec, probes: [probe] } };
    const batch = attempts(withUserProbe);
    await expect(lab.ran.target.probe(lab.ran.d, batch)).rejects.toThrow(
      /setresuid failed: Operation not permitted|setgroups failed: Operation not permitted|setresgid failed: Operation not permitted/,
    );
  });
});
