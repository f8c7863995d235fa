/**
 * The two programs the lab starts in pods: the probe agent (built by scripts/bundle-agent.mjs) and the lab's
 * sidecar (bundled here on first use when missing or older than its sources, because it is part of the lab).
 */
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, statSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TargetError } from '../target.js';

/** The package root: two levels up from src/targets/lab or dist/targets/lab. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const AGENT_BUNDLE = join(PACKAGE_ROOT, 'dist', 'agent', 'meshprobe-agent.mjs');
export const SIDECAR_BUNDLE = join(PACKAGE_ROOT, 'dist', 'lab', 'meshprobe-sidecar.mjs');
/** The first code of every pod thread (src/targets/lab/thread/entry.ts). */
export const POD_THREAD_BUNDLE = join(PACKAGE_ROOT, 'dist', 'lab', 'meshprobe-pod-thread.mjs');
const SIDECAR_SOURCES = join(PACKAGE_ROOT, 'src', 'targets', 'lab', 'sidecar');
const THREAD_SOURCES = join(PACKAGE_ROOT, 'src', 'targets', 'lab', 'thread');
/** Everything the lab's bundles are built from: their own sources and the pure model and probe helpers they import. */
const SIDECAR_INPUTS = [SIDECAR_SOURCES, THREAD_SOURCES, join(PACKAGE_ROOT, 'src', 'model'), join(PACKAGE_ROOT, 'src', 'probe')];

export function agentBundle(): string {
  if (!existsSync(AGENT_BUNDLE)) {
    throw new TargetError(`the probe agent bundle ${AGENT_BUNDLE} is missing`, 'run scripts/bootstrap (or node scripts/bundle-agent.mjs)');
  }
  return AGENT_BUNDLE;
}

function newestSource(): number {
  const dirs = SIDECAR_INPUTS.filter((d) => existsSync(d));
  return Math.max(0, ...dirs.flatMap((d) => readdirSync(d).map((f) => statSync(join(d, f)).mtimeMs)));
}

/** Builds the sidecar and pod-thread bundles when missing or older than their sources; returns the sidecar's. */
export async function sidecarBundle(): Promise<string> {
  const newest = newestSource();
  const fresh = [SIDECAR_BUNDLE, POD_THREAD_BUNDLE].every((f) => existsSync(f) && statSync(f).mtimeMs >= newest);
  if (fresh) return SIDECAR_BUNDLE;
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new TargetError(`the lab sidecar bundle ${SIDECAR_BUNDLE} is missing and esbuild is not installed`, 'run scripts/bootstrap');
  }
  const common: import('esbuild').BuildOptions = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // koffi is a native module: it stays a package import, resolved from this package's node_modules.
    external: ['koffi'],
    logLevel: 'error',
  };
  await Promise.all([
    esbuild.build({ ...common, entryPoints: [join(SIDECAR_SOURCES, 'main.ts')], outfile: SIDECAR_BUNDLE }),
    esbuild.build({ ...common, entryPoints: [join(THREAD_SOURCES, 'entry.ts')], outfile: POD_THREAD_BUNDLE }),
  ]);
  return SIDECAR_BUNDLE;
}

/** Where the programs a lab runs in its pods are staged, inside the lab's own directory. */
export interface LabPrograms {
  agent: string;
  sidecar: string;
  /** The entry of every pod thread, which then runs the agent or the sidecar. */
  podThread: string;
}

/**
 * Copies the agent, the sidecar and the sidecar's one package import (koffi, a native module, with its
 * per-platform binary package) into the lab's
 * directory, readable by everyone. Pods run them as unprivileged uids (the workload's, 1337) that may not be
 * able to read the checkout at all: a clone under /root or in a mktemp directory is mode 0700. The copy goes
 * with the lab at teardown.
 */
export async function stagePrograms(labDirectory: string): Promise<LabPrograms> {
  const bin = join(labDirectory, 'bin');
  const modules = join(bin, 'node_modules');
  mkdirSync(modules, { recursive: true });
  const koffi = join(PACKAGE_ROOT, 'node_modules', 'koffi');
  if (!existsSync(join(koffi, 'package.json'))) throw new TargetError(`the lab sidecar needs the koffi package (${koffi} is missing)`, 'run scripts/bootstrap');
  const programs: LabPrograms = { agent: join(bin, 'meshprobe-agent.mjs'), sidecar: join(bin, 'meshprobe-sidecar.mjs'), podThread: join(bin, 'meshprobe-pod-thread.mjs') };
  copyFileSync(agentBundle(), programs.agent);
  copyFileSync(await sidecarBundle(), programs.sidecar);
  copyFileSync(POD_THREAD_BUNDLE, programs.podThread);
  cpSync(koffi, join(modules, 'koffi'), { recursive: true });
  // koffi's native binary ships in a per-platform package (@koromix/koffi-<os>-<arch>).
  const natives = join(PACKAGE_ROOT, 'node_modules', '@koromix');
  if (existsSync(natives)) cpSync(natives, join(modules, '@koromix'), { recursive: true });
  for (const d of [bin, modules]) chmodSync(d, 0o755);
  if (existsSync(join(modules, '@koromix'))) chmodSync(join(modules, '@koromix'), 0o755);
  for (const f of [programs.agent, programs.sidecar, programs.podThread]) chmodSync(f, 0o644);
  return programs;
}
