import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';

// Only argument handling and the dry-run plan: downloading needs the internet, which tests never use.
const run = (...args: string[]) => spawnSync('bash', ['scripts/install-tools', ...args], { encoding: 'utf8' });

describe('scripts/install-tools', () => {
  test('dry run prints the pinned kind release with its pinned checksum and the istioctl release', () => {
    const r = run('--dry-run', '--os', 'linux', '--arch', 'x86_64', '--dir', '/tmp/mp-tools');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      'kind v0.27.0: https://github.com/kubernetes-sigs/kind/releases/download/v0.27.0/kind-linux-amd64 sha256=a6875aaea358acf0ac07786b1a6755d08fd640f4c79b7a2e46681cc13f49a04b -> /tmp/mp-tools/kind',
    );
    expect(r.stdout).toContain('istioctl 1.26.2: https://github.com/istio/istio/releases/download/1.26.2/istioctl-1.26.2-linux-amd64.tar.gz');
  });
  test('darwin/arm64 maps to Istio osx archives and the darwin kind checksum', () => {
    const r = run('--dry-run', '--os', 'darwin', '--arch', 'arm64');
    expect(r.stdout).toContain('kind-darwin-arm64 sha256=5240ca1acb587e1d0386532dd8c3373d81f5173b5af322919fc56f0cdd646596');
    expect(r.stdout).toContain('istioctl-1.26.2-osx-arm64.tar.gz');
  });
  test('--only limits the tools; bad arguments exit 2 with a message', () => {
    expect(run('--dry-run', '--only', 'istioctl').stdout).not.toContain('kind v0.27.0');
    const bad = run('--arch', 'mips');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unsupported architecture: mips/);
    expect(run('--frobnicate').stderr).toMatch(/unknown argument: --frobnicate/);
    expect(run('--dir').stderr).toMatch(/--dir needs a value/);
  });
});
