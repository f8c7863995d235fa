/**
 * commands.sh of a finding: how a person reproduces the probe by hand, on the lab (kept with --keep) and on a
 * cluster. Every value comes from a scenario, i.e. from a file someone else wrote, so each one is passed through
 * `shq` (single quotes; a quote inside becomes '\''), never pasted into shell text; names the script computes are
 * used only inside double-quoted expansions.
 */
import { NONCE_HEADER } from '../agent/call-http.js';
import type { Probe, Scenario } from '../scenario/schema.js';
import { planLab } from '../targets/lab/plan.js';
import { LABS_DIR } from '../targets/lab/state.js';

/** One shell word for any string: safe whatever it contains (NUL cannot reach a shell and is refused). */
export function shq(value: string): string {
  if (value.includes('\0')) throw new Error('a value with a NUL byte cannot be written into a shell script');
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const CLUSTER_DOMAIN_HOST = (to: string) => {
  const [ns, name] = to.split('/');
  return `${name}.${ns}.svc.cluster.local`;
};

/** The lab's layout of the scenario (addresses and netns suffixes do not depend on the lab id). */
function labHost(s: Scenario, key: string) {
  const plan = planLab(s, 'xxxx');
  return plan.hosts.find((h) => h.key === key);
}

/** curl's arguments for the probe's request (http and https), as close to what the agent sends as curl allows. */
export function curlArgs(s: Scenario, p: Probe, nonce: string): string[] {
  const dst = labHost(s, p.to);
  const scheme = p.protocol === 'https' ? 'https' : 'http';
  const host = p.to.includes('/') ? CLUSTER_DOMAIN_HOST(p.to) : p.to;
  const url = `${scheme}://${dst?.address ?? host}:${p.port ?? 80}`;
  const args = ['curl', '-sS', '-i', '--max-time', '5'];
  if (p.protocol === 'https') args.push('-k');
  const raw = p.http?.raw;
  if (raw) {
    args.push('--path-as-is', '-X', raw.method, '--request-target', raw.requestTarget);
    if (raw.version === '1.0') args.push('--http1.0');
    // curl always sends a Host; an empty `Host:` removes it (HTTP/1.0 without Host).
    args.push('-H', raw.host !== undefined ? `Host: ${raw.host}` : raw.version === '1.0' ? 'Host:' : `Host: ${host}:${p.port}`);
    for (const [k, v] of raw.headers ?? []) args.push('-H', `${k}: ${v}`);
  } else {
    args.push('-X', p.http?.method ?? 'GET', '-H', `Host: ${host}:${p.port}`);
    for (const [k, v] of Object.entries(p.http?.headers ?? {})) args.push('-H', `${k}: ${v}`);
  }
  args.push('-H', `${NONCE_HEADER}: ${nonce}`, raw ? url : `${url}${p.http?.path ?? '/'}`);
  return args;
}

/** The ProbeRequest the agent's `call` role reads on stdin (the format of src/agent/types.ts). */
export function agentRequest(p: Probe, host: string, nonce: string): string {
  const { jwt: _jwt, ...http } = p.http ?? {};
  return JSON.stringify({
    nonce,
    protocol: p.protocol,
    host,
    ...(p.port !== undefined ? { port: p.port } : {}),
    ...(p.http ? { http } : {}),
  });
}

/**
 * A probe's `http.jwt` token is signed by the run's key pair, which lives only in the process that deployed the lab
 * (or rendered the cluster's policies): a token written into this script could not verify there, so the request
 * below goes without it, and the script says so.
 */
function jwtNote(p: Probe): string[] {
  if (!p.http?.jwt) return [];
  return [
    `#    NOTE: this probe carries a JWT (http.jwt, subject ${JSON.stringify(p.http.jwt.subject).replace(/[^\x20-\x7e]/g, '')}); its signing key exists only inside the`,
    '#    meshprobe process that deployed the target, so the request below is sent WITHOUT the token; rerun the',
    '#    scenario with meshprobe to send it.',
  ];
}

function labSection(s: Scenario, p: Probe, nonce: string): string[] {
  const src = labHost(s, p.from);
  const dst = labHost(s, p.to);
  const srcSuffix = src?.netns.slice('mp-xxxx-'.length) ?? '';
  const dstSuffix = dst?.netns.slice('mp-xxxx-'.length) ?? '';
  const lines = [
    '# --- on the lab (as root, from the repository) ---',
    "# 1. deploy the minimal scenario and hold it up (the lab's agents and sidecars live in this process):",
    'node bin/meshprobe.js repro --hold "$HERE/scenario.yaml" < /dev/null > "$HERE/hold.log" 2>&1 &',
    'HOLD=$!',
    'trap \'kill -TERM "$HOLD" 2>/dev/null; wait "$HOLD" || true\' EXIT',
    'for _ in $(seq 1200); do grep -q "^ready lab=" "$HERE/hold.log" && break; kill -0 "$HOLD" || { cat "$HERE/hold.log"; exit 2; }; sleep 0.5; done',
    'cat "$HERE/hold.log"',
    '#    (to look around longer, run that line alone in another shell and set LAB to the id it prints)',
    '# 2. the lab id (or set LAB to a lab held elsewhere):',
    'LAB="${LAB:-$(sed -n \'s/^ready lab=\\([a-z0-9]*\\)$/\\1/p\' "$HERE/hold.log")}"',
    '[[ -n "$LAB" ]] || { echo "the lab did not come up: see $HERE/hold.log" >&2; exit 2; }',
  ];
  if (p.protocol === 'http' || p.protocol === 'https') {
    lines.push(
      `# 3. the probe's request from ${p.from}; the application answers with what it received (its observation):`,
      ...jwtNote(p),
      `ip netns exec "mp-$LAB-"${shq(srcSuffix)} ${curlArgs(s, p, nonce).map(shq).join(' ')}`,
      'echo  # the answer has no final newline',
    );
  } else {
    lines.push(
      `# 3. the probe from ${p.from}, sent by the agent inside the source pod's network namespace:`,
      `printf '%s\\n' ${shq(agentRequest(p, dst?.address ?? p.to, nonce))} | ip netns exec "mp-$LAB-"${shq(srcSuffix)} node dist/agent/meshprobe-agent.mjs call`,
    );
  }
  if (dst?.sidecar) {
    lines.push(
      `# 4. the decision of ${p.to}'s sidecar for this nonce (which policy matched, and why):`,
      '#    (the sidecar appends its log shortly after answering: the grep is retried for up to 5 s)',
      `LOG="${LABS_DIR}/$LAB/"${shq(dstSuffix)}/sidecar.log`,
      `FOUND=; for _ in $(seq 20); do if grep -F -- ${shq(nonce)} "$LOG"; then FOUND=1; break; fi; sleep 0.25; done`,
      '[[ -n "$FOUND" ]] || tail -n 20 "$LOG"',
    );
  }
  lines.push(
    `# 5. the capture rules of the source pod:`,
    `ip netns exec "mp-$LAB-"${shq(srcSuffix)} iptables-save -t nat`,
    '# 6. the lab is removed when this script exits (the hold ends).',
  );
  return lines;
}

function clusterSection(s: Scenario, p: Probe, nonce: string): string[] {
  const [srcNs, srcName] = p.from.split('/');
  const dst = p.to.includes('/') ? p.to.split('/') : undefined;
  const lines = [
    '# --- on a cluster (kind or existing; kubectl pointing at it) ---',
    `node bin/meshprobe.js run "$HERE/scenario.yaml" --target "\${TARGET:-kind}" --keep`,
    '# namespaces carry a per-run prefix: set NS_<name> to the namespaces the run printed, or they are looked up by suffix.',
    `ns() { kubectl get ns -l 'meshprobe.io/scenario='${shq(s.metadata.name)} -o name | sed 's|^namespace/||' | grep -e "-$1\\$" | head -n 1; }`,
    `SRC_NS="\${SRC_NS:-$(ns ${shq(srcNs)})}"`,
  ];
  const host = dst ? `${dst[1]}.$DST_NS.svc.cluster.local` : p.to;
  if (dst) lines.push(`DST_NS="\${DST_NS:-$(ns ${shq(dst[0])})}"`);
  const request = agentRequest(p, dst ? '__HOST__' : p.to, nonce);
  const [before, after] = request.split('__HOST__');
  const requestWord = dst ? `${shq(before)}"${dst[1]}.$DST_NS.svc.cluster.local"${shq(after)}` : shq(request);
  lines.push(
    `# the probe, sent by the agent in the source pod (host ${host}):`,
    ...jwtNote(p),
    `kubectl exec -i -n "$SRC_NS" deploy/${shq(srcName)} -c agent -- node /agent/meshprobe-agent.mjs call <<< ${requestWord}`,
  );
  if (dst) {
    lines.push(
      '# what the destination application recorded for the nonce:',
      `kubectl exec -n "$DST_NS" deploy/${shq(dst[1])} -c agent -- node /agent/meshprobe-agent.mjs query --control /tmp/meshprobe/control.sock --nonce ${shq(nonce)}`,
      "# the destination sidecar's configuration (listeners, RBAC filters) and its access log:",
      `istioctl proxy-config listener -n "$DST_NS" "deploy/"${shq(dst[1])} --port ${shq(String(p.port ?? ''))} -o json`,
      `kubectl logs -n "$DST_NS" deploy/${shq(dst[1])} -c istio-proxy --tail 50`,
    );
  }
  lines.push(`istioctl proxy-config cluster -n "$SRC_NS" "deploy/"${shq(srcName)}`, `node bin/meshprobe.js down`);
  return lines;
}

export function commandsScript(s: Scenario, p: Probe, nonce: string): string {
  return [
    '#!/usr/bin/env bash',
    `# Reproduces probe ${JSON.stringify(p.name)} of scenario ${JSON.stringify(s.metadata.name)} by hand; run the section for your target.`,
    '# Generated by meshprobe repro; every value from the scenario is single-quoted.',
    'set -euo pipefail',
    'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
    `NONCE=${shq(nonce)}  # any token without whitespace; the application records it`,
    'if [[ "${1:-lab}" == lab ]]; then',
    ...labSection(s, p, nonce).map((l) => `  ${l}`),
    'else',
    ...clusterSection(s, p, nonce).map((l) => `  ${l}`),
    'fi',
    '',
  ].join('\n');
}
