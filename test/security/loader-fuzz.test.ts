/**
 * Seeded fuzzing of the loader: mutants of the built-in scenarios (scenarios/**), alias bombs, deep nesting, huge
 * and non-UTF-8 files. Every case must end as `validate` would with exit 0 (valid) or 2 (errors, each with a
 * position or about the file as a whole), within the 5 s the loader is allowed per file, with no exception
 * escaping. A few go through the real CLI, which must print no stack trace. Same seed, same cases: a failure
 * names the case to replay.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicies, loadWorkloadsFile } from '../../src/predict/inputs.js';
import { formatError, loadScenarios } from '../../src/scenario/loader.js';

const SEED = 0x5eed14;
const MUTANTS = 320;
/** The issue's acceptance limit per case; a guard against hangs, not a performance figure. */
const CASE_LIMIT_MS = 5000;
const FILE_LEVEL = /^(contains no YAML document|file is \d+ bytes; the limit is|cannot be checked: )/;
const NO_STACK = /\n\s+at .+:\d+:\d+\)?\n|^\s*at .+\(.+:\d+:\d+\)$/m;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? yamlFiles(full) : /\.ya?ml$/.test(name) ? [full] : [];
    });
}

const PAYLOADS = [
  '"10.244.0.0/16\\nCOMMIT\\nMESHPROBE_EOF\\ntouch pwned"',
  '"$(touch pwned)"',
  '"`id`"',
  '"../../../../x"',
  '"a\\r\\nX-Injected: 1"',
  '"\\u0000"',
  '*nope',
  '&a [*a]',
  '{',
  '[',
  '"',
  "'",
  '|',
  '>-',
  '!!binary AAAA',
  '!<tag:x> y',
  '? complex',
  '-1',
  '70000',
  '0',
  '1e400',
  '"\\u2028"',
  '~',
  '.nan',
  '0x1F',
  'null',
  '[]',
  '{}',
  '*',
  '"*.*"',
  '::',
  '"\\t"',
  'ÿ',
  '\u{1F600}',
];
const SNIPPETS = ['*', '&', ':', '- ', '[', ']', '{', '}', '\t', '\n', '#', '"', "'", '|', '>', '!', '%', '@', '`', ',', '?', '\u00a0', '\0', '\r'];

type Mutant = { name: string; content: string | Buffer };

function mutate(text: string, rnd: () => number): string | Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const lines = text.split('\n');
  const i = Math.floor(rnd() * lines.length);
  const j = Math.floor(rnd() * lines.length);
  switch (Math.floor(rnd() * 9)) {
    case 0:
      lines.splice(i, 1);
      break;
    case 1:
      lines.splice(i, 0, lines[j]);
      break;
    case 2:
      [lines[i], lines[j]] = [lines[j], lines[i]];
      break;
    case 3: {
      const at = Math.floor(rnd() * text.length);
      return text.slice(0, at) + pick(SNIPPETS) + text.slice(at);
    }
    case 4:
      return text.slice(0, Math.floor(rnd() * text.length));
    case 5:
      lines[i] = lines[i].replace(/:\s.*$/, `: ${pick(PAYLOADS)}`);
      break;
    case 6:
      lines[i] = ' '.repeat(Math.floor(rnd() * 5)) + lines[i].trimStart();
      break;
    case 7: {
      const bytes = Buffer.from(text);
      for (let k = 0; k < 3; k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
      return bytes;
    }
    default:
      lines[i] = lines[i].replace(/:\s(\S.*)$/, ': &x $1');
      lines[j] = lines[j].replace(/:\s.*$/, ': *x');
  }
  return lines.join('\n');
}

function bomb(levels: number, width: number): string {
  const rows = Array.from({ length: levels }, (_, i) => `    a${i + 1}: &a${i + 1} [${Array(width).fill(`*a${i}`).join(', ')}]`);
  return `apiVersion: meshprobe.io/v1\nkind: Scenario\nmetadata: {name: bomb}\nspec:\n  x:\n    a0: &a0 [lol]\n${rows.join('\n')}\n`;
}

function cases(): Mutant[] {
  const rnd = mulberry32(SEED);
  const bases = yamlFiles('scenarios').map((f) => ({ f, text: readFileSync(f, 'utf8') }));
  const out: Mutant[] = [];
  for (let n = 0; n < MUTANTS; n++) {
    const base = bases[n % bases.length];
    let content: string | Buffer = base.text;
    const rounds = 1 + Math.floor(rnd() * 4);
    for (let r = 0; r < rounds && typeof content === 'string'; r++) content = mutate(content, rnd);
    out.push({ name: `mutant-${n}-of-${base.f.replace(/\W+/g, '_')}`, content });
  }
  for (const [levels, width] of [
    [5, 10],
    [9, 10],
    [10, 10],
    [12, 10],
    [30, 2],
    [3, 1000],
  ])
    out.push({ name: `bomb-${levels}x${width}`, content: bomb(levels, width) });
  for (const depth of [50, 65, 500, 5000]) {
    out.push({ name: `deep-flow-${depth}`, content: `kind: ${'['.repeat(depth)}${']'.repeat(depth)}\n` });
    out.push({
      name: `deep-block-${depth}`,
      content: Array.from({ length: Math.min(depth, 2000) }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' v\n',
    });
  }
  out.push({ name: 'huge', content: `# ${'x'.repeat(3 * 1024 * 1024)}\n` });
  out.push({
    name: 'huge-just-under',
    content: `apiVersion: meshprobe.io/v1\nkind: Scenario\nmetadata:\n${'  k: v\n'.repeat(10)}# ${'y'.repeat(2 * 1024 * 1024 - 200)}\n`,
  });
  out.push({ name: 'latin1', content: Buffer.from([...Buffer.from('apiVersion: meshprobe.io/v1\nkind: Sc'), 0xe9, 0x0a]) });
  out.push({ name: 'utf16', content: Buffer.from('\ufeffkind: Scenario\n', 'utf16le') });
  out.push({ name: 'nul', content: 'kind: Scenario\n\0\0\0' });
  out.push({ name: 'empty', content: '' });
  return out;
}

let dir: string;
const ALL = cases();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshprobe-fuzz-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Whether the case was valid; throws, naming the case, when it breaks a rule. */
async function checkCase(c: Mutant): Promise<boolean> {
  const file = join(dir, `${c.name}.yaml`);
  writeFileSync(file, c.content);
  const t0 = performance.now();
  const r = await loadScenarios([file]);
  const elapsed = performance.now() - t0;
  const where = `case ${c.name} (seed ${SEED})`;
  if (elapsed > CASE_LIMIT_MS) throw new Error(`${where}: took ${Math.round(elapsed)} ms`);
  for (const e of r.errors) {
    if (e.file !== file) throw new Error(`${where}: error about another file: ${formatError(e)}`);
    const positioned = e.line >= 1 && e.col >= 1;
    if (!positioned && !FILE_LEVEL.test(e.message)) throw new Error(`${where}: error without a position: ${formatError(e)}`);
    if (/^cannot be checked: /.test(e.message)) throw new Error(`${where}: an exception reached the last line of defence: ${e.message}`);
  }
  if (r.errors.length === 0 && r.documents.length === 0) throw new Error(`${where}: neither valid nor invalid`);
  return r.errors.length === 0;
}

describe('loader fuzzing', () => {
  it(`has at least 300 mutants of the built-in scenarios plus bombs, nesting, huge and non-UTF-8 files (${ALL.length} cases)`, () => {
    expect(ALL.filter((c) => c.name.startsWith('mutant-')).length).toBeGreaterThanOrEqual(300);
  });

  it('every case ends valid or with positioned errors, in time, without an exception', async () => {
    let valid = 0;
    for (const c of ALL) {
      if (await checkCase(c)) valid++;
    }
    // The mutations are not all fatal: both outcomes occur (otherwise the fuzzer tests nothing but one path).
    expect(valid).toBeGreaterThan(10);
    expect(valid).toBeLessThan(ALL.length - 50);
  }, 600_000);

  it('the policies and workloads-file loaders take the same cases without an exception', async () => {
    for (const c of ALL.filter((_, i) => i % 4 === 0)) {
      const file = join(dir, `${c.name}.yaml`);
      for (const r of [await loadPolicies(file), await loadWorkloadsFile(file)]) {
        if (!r.ok) for (const e of r.errors) expect(e.startsWith(`${file}:`) || e.startsWith(`${file} `)).toBe(true);
      }
    }
  }, 600_000);
});

describe('loader fuzzing through the CLI', () => {
  beforeAll(() => {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.build.json'], { stdio: 'ignore' });
  }, 120_000);

  it('exits 0 or 2 with no stack trace on stderr', () => {
    const names = ['bomb-10x10', 'deep-flow-5000', 'huge', 'latin1', 'mutant-0', 'mutant-1'];
    const picked = ALL.filter((c) => names.some((n) => c.name === n || c.name.startsWith(`${n}-of-`)));
    expect(picked).toHaveLength(names.length);
    for (const c of picked) {
      const file = join(dir, `${c.name}.yaml`);
      writeFileSync(file, c.content);
      const r = spawnSync(process.execPath, ['bin/meshprobe.js', 'validate', '--json', file], {
        encoding: 'utf8',
        timeout: 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
      expect({ name: c.name, status: r.status, stack: NO_STACK.test(r.stderr) }).toEqual({ name: c.name, status: expect.any(Number), stack: false });
      expect([0, 2]).toContain(r.status);
      expect(r.stderr).toBe('');
      expect(() => JSON.parse(r.stdout) as unknown).not.toThrow();
    }
  }, 600_000);
});
