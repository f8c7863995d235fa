/**
 * The lab's programs: the agent (built by scripts/bundle-agent.mjs), which the lab also starts as a process
 * for probes sent as another uid or with a flush-capture; and the lab runtime (agents and sidecars of every pod),
 * bundled here on first use when missing or older than its sources, because it is part of the lab.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TargetError } from '../target.js';
import { PUBLIC_DIR, PUBLIC_FILE, rootDir, writeNewFile } from './files.js';

/** The package root: two levels up from src/targets/lab or dist/targets/lab. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const AGENT_BUNDLE = join(PACKAGE_ROOT, 'dist', 'agent', 'meshprobe-agent.mjs');
export const RUNTIME_BUNDLE = join(PACKAGE_ROOT, 'dist', 'lab', 'meshprobe-lab-runtime.mjs');
const LAB_SOURCES = join(PACKAGE_ROOT, 'src', 'targets', 'lab');
/** Everything the runtime bundle is built from: the runtime, the sidecar, and the model and agent code they use. */
const RUNTIME_INPUTS = ['runtime', 'sidecar']
  .map((d) => join(LAB_SOURCES, d))
  .concat([join(PACKAGE_ROOT, 'src', 'model'), join(PACKAGE_ROOT, 'src', 'agent')]);

export function agentBundle(): string {
  if (!existsSync(AGENT_BUNDLE)) {
    throw new TargetError(`the agent bundle ${AGENT_BUNDLE} is missing`, 'run scripts/bootstrap (or node scripts/bundle-agent.mjs)');
  }
  return AGENT_BUNDLE;
}

function newestSource(): number {
  const dirs = RUNTIME_INPUTS.filter((d) => existsSync(d));
  return Math.max(0, ...dirs.flatMap((d) => readdirSync(d).map((f) => statSync(join(d, f)).mtimeMs)));
}

/** The lab runtime's bundle, built when missing or older than its sources. */
export async function runtimeBundle(): Promise<string> {
  if (existsSync(RUNTIME_BUNDLE) && statSync(RUNTIME_BUNDLE).mtimeMs >= newestSource()) return RUNTIME_BUNDLE;
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new TargetError(`the lab runtime bundle ${RUNTIME_BUNDLE} is missing and esbuild is not installed`, 'run scripts/bootstrap');
  }
  await esbuild.build({
    entryPoints: [join(LAB_SOURCES, 'runtime', 'worker.ts')],
    outfile: RUNTIME_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // koffi is a native module: it stays a package import, resolved from this package's node_modules.
    external: ['koffi'],
    logLevel: 'error',
  });
  return RUNTIME_BUNDLE;
}

/** Where the agent is staged for the processes a lab starts in pods. */
export interface LabPrograms {
  agent: string;
}

/**
 * Copies the agent into `directory` (under /run/meshprobe/labs), readable by everyone and writable by root only
 * (bin/ 0755, the file 0644, root's): a probe sent as another uid runs it as that uid, which may not be able to
 * read the checkout at all (a clone under /root or in a mktemp directory is mode 0700). The copy goes with the
 * directory.
 */
export function stagePrograms(directory: string): LabPrograms {
  const bin = join(directory, 'bin');
  rootDir(bin, PUBLIC_DIR);
  const programs: LabPrograms = { agent: join(bin, 'meshprobe-agent.mjs') };
  writeNewFile(programs.agent, readFileSync(agentBundle()), PUBLIC_FILE);
  return programs;
}
