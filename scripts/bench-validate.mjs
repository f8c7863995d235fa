#!/usr/bin/env node
// Benchmark: `npx meshprobe validate` on 200 generated scenario files (each with a PeerAuthentication and an
// AuthorizationPolicy to check). Prints `name: value unit` lines. Target: validate_200_files_s < 2.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const template = readFileSync(join(root, 'test/fixtures/scenarios/valid/every-resource-kind.yaml'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'meshprobe-bench-'));
const FILES = 200;
try {
  for (let i = 0; i < FILES; i++) {
    writeFileSync(join(dir, `s${String(i).padStart(3, '0')}.yaml`), template.replace('name: every-resource-kind', `name: bench-${i}`));
  }
  const run = (command = 'npx', args = ['--no-install', 'meshprobe']) => {
    const t0 = process.hrtime.bigint();
    const out = execFileSync(command, [...args, 'validate', dir], { cwd: root, encoding: 'utf8' });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (!out.includes(`${FILES} scenario documents checked, 0 invalid`)) throw new Error(`unexpected output:\n${out}`);
    return seconds;
  };
  run(); // warm the file cache so the figure measures meshprobe, not the disk
  const times = [run(), run(), run()].sort((a, b) => a - b); // median of three
  console.log(`validate_200_files_s: ${times[1].toFixed(2)} s`);
  // Without npx's own start-up (about a second of npm), i.e. what `node bin/meshprobe.js validate` costs.
  const direct = [1, 2, 3].map(() => run(process.execPath, ['bin/meshprobe.js'])).sort((a, b) => a - b);
  console.log(`validate_200_files_node_s: ${direct[1].toFixed(2)} s`);
  console.log(`validate_per_file_ms: ${((direct[1] / FILES) * 1000).toFixed(1)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
