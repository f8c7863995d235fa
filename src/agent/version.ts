/**
 * The agent's version. The bundle has it compiled in (scripts/bundle-agent.mjs defines it from package.json);
 * the tsc build reads the package.json two levels up from dist/agent/.
 */
import { readFileSync } from 'node:fs';

declare const __MESHPROBE_AGENT_VERSION__: string | undefined;

function fromPackageJson(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const AGENT_VERSION: string = typeof __MESHPROBE_AGENT_VERSION__ === 'string' ? __MESHPROBE_AGENT_VERSION__ : fromPackageJson();
