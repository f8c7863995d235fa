#!/usr/bin/env node
// Bundles the agent (src/agent/agent.ts) into ONE self-contained ESM file for the probe image:
// dist/agent/meshprobe-agent.mjs (or --outfile PATH, used by tests), node 20, node built-ins only.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const flag = process.argv.indexOf('--outfile');
const outfile = flag > 0 ? process.argv[flag + 1] : new URL('dist/agent/meshprobe-agent.mjs', root).pathname;

try {
  await build({
    entryPoints: [new URL('src/agent/agent.ts', root).pathname],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Anything not a node built-in must be inside the bundle; a bare import that slips in fails the build.
    packages: 'bundle',
    define: { __MESHPROBE_AGENT_VERSION__: JSON.stringify(version) },
    banner: { js: '#!/usr/bin/env node' },
    legalComments: 'none',
    logLevel: 'warning',
  });
} catch {
  process.stderr.write('bundle-agent: esbuild failed (see above)\n');
  process.exit(1);
}
