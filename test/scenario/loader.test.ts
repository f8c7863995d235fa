import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatError, loadScenarios } from '../../src/scenario/loader.js';

const MINIMAL = readFileSync('test/fixtures/scenarios/valid/minimal.yaml', 'utf8');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'meshprobe-loader-'));
  mkdirSync(join(dir, 'a/b'), { recursive: true });
  writeFileSync(join(dir, 'a/one.yaml'), MINIMAL.replace('name: minimal', 'name: one'));
  writeFileSync(join(dir, 'a/b/two.yml'), MINIMAL.replace('name: minimal', 'name: two'));
  writeFileSync(join(dir, 'a/b/notes.txt'), 'not a scenario');
  mkdirSync(join(dir, 'dup'));
  writeFileSync(join(dir, 'dup/x.yaml'), MINIMAL);
  writeFileSync(join(dir, 'dup/y.yaml'), MINIMAL);
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'blank.yaml'), '# nothing here\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadScenarios', () => {
  it('searches directories recursively for .yaml and .yml files, in name order', async () => {
    const r = await loadScenarios([join(dir, 'a')]);
    expect(r.errors).toEqual([]);
    expect(r.scenarios.map((s) => [s.scenario.metadata.name, s.file, s.doc, s.line])).toEqual([
      ['two', join(dir, 'a/b/two.yml'), 0, 2],
      ['one', join(dir, 'a/one.yaml'), 0, 2],
    ]);
  });

  it('applies the format defaults (sidecar injection on, no externals)', async () => {
    const [loaded] = (await loadScenarios([join(dir, 'a/one.yaml')])).scenarios;
    expect(loaded.scenario.spec.namespaces[0]).toEqual({ name: 'app', sidecarInjection: true });
    expect(loaded.scenario.spec.externals).toEqual([]);
    expect(loaded.scenario.spec.workloads[1].ports).toEqual([]);
  });

  it('rejects the same scenario name in two files, naming both places', async () => {
    const r = await loadScenarios([join(dir, 'dup')]);
    expect(r.scenarios).toHaveLength(1);
    expect(r.errors.map(formatError)).toEqual([
      `${join(dir, 'dup/y.yaml')}:5:9: metadata.name: duplicate scenario name "minimal": also used at ${join(dir, 'dup/x.yaml')}:5:9`,
    ]);
  });

  it('names a missing path, an empty directory and a file without documents', async () => {
    const r = await loadScenarios([join(dir, 'nope'), join(dir, 'empty'), join(dir, 'blank.yaml')]);
    expect(r.errors.map(formatError)).toEqual([
      `${join(dir, 'nope')}: no such file or directory`,
      `${join(dir, 'empty')}: no scenario files (*.yaml, *.yml) in this directory`,
      `${join(dir, 'blank.yaml')}: contains no YAML document`,
    ]);
  });

  it('reports every document of a multi-document file with its own start line', async () => {
    const r = await loadScenarios(['test/fixtures/scenarios/invalid/multi-document-many-errors.yaml']);
    expect(r.documents.map((d) => [d.doc, d.line, d.name, d.errors.length])).toEqual([
      [0, 2, 'multi-one', 0],
      [1, 30, 'multi-one', 3],
    ]);
  });
});
