#!/usr/bin/env node
// Benchmark: `npx meshprobe validate` on 200 generated scenario files (each with a PeerAuthentication and an
// AuthorizationPolicy to check). Prints `name: value unit` lines. Target: validate_200_files_s < 2.
// Then hostile input: a file with 40,000 unknown keys (all reported: must stay linear) and an alias bomb of
// 10 levels of 10 aliases (refused at the alias; target < 1 s).
import { execFileSync, spawnSync } from 'node:child_process';
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
  const invalid = (name, text, expect) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['bin/meshprobe.js', 'validate', file], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 2 || !r.stdout.includes(expect)) throw new Error(`unexpected result for ${name}:\n${r.stdout.slice(-2000)}${r.stderr}`);
    return seconds;
  };
  const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: v\n`).join('');
  const unknown = template.replace(/^metadata:\n/m, `metadata:\n${keys}`);
  console.log(`validate_40k_unknown_keys_s: ${invalid('unknown.yaml', unknown, 'unknown field "k39999"').toFixed(2)} s`);
  const levels = Array.from({ length: 10 }, (_, i) => `      a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(',')}]`).join('\n');
  const bomb = template.replace(/^spec:\n/m, `spec:\n  x:\n      a0: &a0 [lol]\n${levels}\n`);
  console.log(`validate_alias_bomb_s: ${invalid('bomb.yaml', bomb, 'makes the document expand to more than').toFixed(2)} s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
