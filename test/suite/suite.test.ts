/**
 * The built-in suite as `npm start` runs it: on the lab every lab-capable scenario PASSes; the cluster-only ones
 * are SKIPPED with the reason naming the targets that can run them. Also checks what every scenario of the suite
 * must carry (claim quoted from the page, its section as source, tags, title, positive and negative probes).
 * Needs root.
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { run } from '../../src/engine/run.js';
import type { RunResult } from '../../src/engine/types.js';
import { labCapable, SUITE_DIR, suiteFiles } from './suite.js';
import { describeAsRoot } from '../support/as-root.js';

const files = suiteFiles();
/**
 * A copy of Istio's "Security Best Practices" page (Markdown source). It is not part of this repository, so the
 * quote check runs where MESHPROBE_BEST_PRACTICES_PAGE points at one.
 */
const PAGE_PATH = process.env.MESHPROBE_BEST_PRACTICES_PAGE ?? '';
const havePage = PAGE_PATH !== '' && existsSync(PAGE_PATH);
/**
 * Sections of the current istio.io page (istio/istio.io content/en/docs/ops/best-practices/security/index.md) that
 * older copies of the page lack; scenarios 22-28 quote them.
 */
const NEWER_THAN_COPY = ['Authorization policies'];
/** The page without link targets and markup, whitespace collapsed: the form a quoted claim is compared against. */
const pageText = havePage
  ? readFileSync(PAGE_PATH, 'utf8')
      .replace(/\]\([^)]*\)/g, ']')
      .replace(/[[\]]/g, '')
      .replace(/\s+/g, ' ')
  : '';

describe('suite content', () => {
  test('one scenario per claim 1-21, each with title, tags and the page section as source', () => {
    expect(files.length).toBeGreaterThanOrEqual(21);
    for (const { file, scenario: s } of files) {
      const m = s.metadata;
      expect({
        file,
        title: !!m.title,
        tags: (m.tags ?? []).includes('best-practices'),
        source: m.source?.startsWith('Istio Security Best Practices / '),
      }).toEqual({ file, title: true, tags: true, source: true });
    }
  });

  (havePage ? test : test.skip)('every claim is quoted verbatim from the page (links and whitespace aside)', () => {
    const headings = new Set([...readFileSync(PAGE_PATH, 'utf8').matchAll(/^#+\s+(.+?)\s*$/gm)].map((h) => h[1]!.replace(/`/g, '')));
    for (const {
      file,
      scenario: { metadata: m },
    } of files) {
      const section = (m.source ?? '').split(' / ')[1] ?? '';
      // A section of the current page that this copy predates: its claims cannot be checked against this copy, and
      // only the sections listed here may be missing from it (a copy that has them checks them again).
      if (NEWER_THAN_COPY.includes(section) && !headings.has(section)) continue;
      expect({ file, quoted: pageText.includes((m.claim ?? '<none>').replace(/\s+/g, ' ')) }).toEqual({ file, quoted: true });
    }
  });

  test('every scenario has a positive control and a negative probe', () => {
    for (const { file, scenario: s } of files) {
      const reach = (s.spec.probes ?? []).map((p) => p.expect.reach);
      expect({ file, positive: reach.includes(true), negative: reach.includes(false) || !labCapable(s) }).toEqual({
        file,
        positive: true,
        negative: true,
      });
    }
  });
});

describeAsRoot(`${SUITE_DIR} on the lab`, () => {
  let result: RunResult;
  beforeAll(async () => {
    result = await run({ paths: [SUITE_DIR], target: 'lab' });
  }, 240_000);

  test('every lab-capable scenario PASSes', () => {
    const capable = files.filter((f) => labCapable(f.scenario)).map((f) => f.scenario.metadata.name);
    const verdicts = Object.fromEntries(
      result.scenarios.filter((s) => capable.includes(s.name)).map((s) => [s.name, `${s.verdict}${s.reason ? `: ${s.reason}` : ''}`]),
    );
    expect(verdicts).toEqual(Object.fromEntries(capable.map((n) => [n, 'PASS'])));
    expect(result.exitStatus).toBe(0);
  });

  test('the others are SKIPPED with the reason', () => {
    const others = files.filter((f) => !labCapable(f.scenario)).map((f) => f.scenario.metadata.name);
    expect(others.length).toBeGreaterThanOrEqual(7);
    for (const name of others) {
      const s = result.scenarios.find((x) => x.name === name);
      expect({ name, verdict: s?.verdict }).toEqual({ name, verdict: 'SKIPPED' });
      expect(s?.reason).toMatch(/kind, existing/);
    }
  });
});
