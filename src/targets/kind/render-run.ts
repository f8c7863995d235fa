/**
 * What `run --target kind` would do, written out without a cluster: every manifest (one file each) and every
 * command, with the Kubernetes API calls shown as their kubectl equivalents. Scenarios are grouped by profile.
 */
import path from 'node:path';
import YAML from 'yaml';
import type { Scenario } from '../../scenario/schema.js';
import { allProbes } from '../../scenario/steps.js';
import { formatCommand } from '../k8s/commands.js';
import {
  AGENT_CONTAINER,
  allManifests,
  DEFAULT_IMAGE,
  RenderError,
  renderScenario,
  WORKLOAD_LABEL,
  type RenderedScenario,
} from '../k8s/manifests.js';
import { DEFAULT_CLUSTER, downPlan, kubeContext, upPlan } from './plan.js';
import { loadProfile, profileFor, profileSatisfies, type ProfileName } from './profiles.js';
import { REPO_ROOT } from './index.js';
import { callCommand, queryCommand } from '../k8s/exec-probe.js';
import { plainSegment, writeTree } from '../../report/files.js';
import { AGENT_BUNDLE_FILE, agentSource, describeAgentSource, loadAgentBundle, processUid } from '../k8s/agent-process.js';

export interface RenderRunOptions {
  outDir: string;
  runId: string;
  clusterName?: string;
  image?: string;
  stockImage?: string;
  /** The agent bundle file stock-mode scenarios mount (default dist/agent/meshprobe-agent.mjs). */
  agentBundleFile?: string;
}

export interface RenderRunResult {
  files: string[];
  commands: string[];
  /** Per rendered scenario: where its agent comes from and why (not for scenarios refused on kind). */
  agents: Array<{ scenario: string; line: string }>;
}

export async function renderRun(scenarios: Scenario[], options: RenderRunOptions): Promise<RenderRunResult> {
  const cluster = options.clusterName ?? DEFAULT_CLUSTER;
  const ctx = kubeContext(cluster);
  const image = options.image ?? DEFAULT_IMAGE;
  const byProfile = new Map<ProfileName, Scenario[]>();
  for (const s of scenarios) byProfile.set(profileFor(s), [...(byProfile.get(profileFor(s)) ?? []), s]);
  const files: string[] = [];
  const commands: string[] = [];
  let bundle: Promise<string> | undefined;
  const agents: RenderRunResult['agents'] = [];
  // Names come from scenario input: collected first, then checked and written together by writeTree (which
  // refuses any name that would leave outDir, before writing anything).
  const pending: Array<{ rel: string; text: string }> = [];
  const write = async (rel: string, text: string) => {
    pending.push({ rel, text });
    files.push(rel);
  };
  for (const [name, group] of byProfile) {
    const profile = await loadProfile(name);
    commands.push(`# profile ${name}: ${group.map((s) => s.metadata.name).join(', ')}`);
    for (const c of upPlan(profile, cluster, image, REPO_ROOT)) commands.push(`${formatCommand(c.cmd, c.args)}   # ${c.why}`);
    for (const s of group) {
      const refused = profileSatisfies(profile.features, s);
      if (refused) {
        commands.push(`# scenario ${s.metadata.name}: not run on kind: ${refused}`);
        continue;
      }
      const agent = agentSource(s);
      if (agent.mode === 'stock') bundle ??= loadAgentBundle(options.agentBundleFile ?? AGENT_BUNDLE_FILE);
      let rendered: RenderedScenario;
      try {
        rendered = renderScenario(s, {
          runId: options.runId,
          image,
          imagePullPolicy: 'Never',
          stockImage: options.stockImage,
          ...(bundle && agent.mode === 'stock' ? { agentBundle: await bundle } : {}),
        });
      } catch (err) {
        // what the target's check refuses (the scenario ERRORs there); the other scenarios still render
        if (!(err instanceof RenderError)) throw err;
        agents.push({ scenario: s.metadata.name, line: `not run: ${err.message}` });
        commands.push(`# scenario ${s.metadata.name}: not run on kind: ${err.message}`);
        continue;
      }
      const dir = path.join(name, plainSegment('scenario name', s.metadata.name));
      const manifests = allManifests(rendered);
      let i = 0;
      for (const m of manifests)
        await write(
          path.join(
            dir,
            `${String(++i).padStart(2, '0')}-${plainSegment('kind', m.kind.toLowerCase())}-${plainSegment(`${m.kind} metadata.name`, m.metadata.name)}.yaml`,
          ),
          YAML.stringify(m),
        );
      agents.push({ scenario: s.metadata.name, line: describeAgentSource(agent, options.stockImage) });
      commands.push(`# scenario ${s.metadata.name}`, `# ${describeAgentSource(agent, options.stockImage)}`);
      for (const f of files.filter((f) => f.startsWith(dir + path.sep))) {
        commands.push(
          formatCommand('kubectl', ['--context', ctx, 'apply', '--server-side', '--field-manager=meshprobe', '--force-conflicts', '-f', f]),
        );
      }
      for (const w of s.spec.workloads) {
        commands.push(
          formatCommand('kubectl', [
            '--context',
            ctx,
            'wait',
            '-n',
            rendered.map.forward.get(w.namespace)!,
            '--for=condition=Ready',
            'pod',
            '-l',
            `${WORKLOAD_LABEL}=${w.name}`,
            '--timeout=180s',
          ]),
        );
      }
      for (const ns of rendered.map.forward.values()) commands.push(formatCommand('istioctl', ['analyze', '--context', ctx, '-n', ns, '-o', 'json']));
      commands.push(
        formatCommand('kubectl', ['--context', ctx, 'port-forward', '-n', 'istio-system', 'deploy/istiod', '15014']) +
          '   # GET /metrics: pilot_total_xds_rejects before and after',
      );
      for (const p of allProbes(s)) {
        const [ns, w] = p.from.split('/');
        commands.push(
          formatCommand('kubectl', [
            '--context',
            ctx,
            'exec',
            '-i',
            '-n',
            rendered.map.forward.get(ns)!,
            `deploy/${w}`,
            '-c',
            AGENT_CONTAINER,
            '--',
            ...callCommand(p, processUid(s, s.spec.workloads.find((x) => `${x.namespace}/${x.name}` === p.from)!)),
          ]) + `   # stdin: the attempts of probe ${p.name} as one chain (JSON)`,
        );
        if (!s.spec.externals.some((e) => e.name === p.to)) {
          const [tns, tw] = p.to.split('/');
          commands.push(
            formatCommand('kubectl', [
              '--context',
              ctx,
              'exec',
              '-n',
              rendered.map.forward.get(tns)!,
              `deploy/${tw}`,
              '-c',
              AGENT_CONTAINER,
              '--',
              ...queryCommand(['<nonce>']),
            ]),
          );
        }
      }
      for (const ns of rendered.map.forward.values())
        commands.push(formatCommand('kubectl', ['--context', ctx, 'delete', 'namespace', ns, '--wait=false']));
    }
    for (const c of downPlan(cluster)) commands.push(`${formatCommand(c.cmd, c.args)}   # ${c.why} (skipped with --keep)`);
  }
  await write(
    'commands.sh',
    `#!/bin/sh\n# What \`meshprobe run --target kind\` does, step by step (API calls shown as kubectl equivalents).\n${commands.join('\n')}\n`,
  );
  await writeTree(options.outDir, pending);
  return { files, commands, agents };
}
