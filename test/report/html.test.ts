/**
 * The HTML report in a real browser (headless Debian chromium): it must open offline, its script must run, the
 * truth table must show expected vs observed per source × destination, and a probe's evidence must open from
 * its cell. Set MESHPROBE_SCREENSHOT_DIR to keep the screenshots for a person to look at.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../../src/engine/types.js';
import { toHtml } from '../../src/report/html.js';
import { CHROMIUM, dumpDom, screenshot } from './chromium.js';
import { mixedRun } from './fixture.js';

const describeIfChromium = existsSync(CHROMIUM) ? describe : describe.skip;

let dir: string;
let file: string;
let result: RunResult;

beforeAll(async () => {
  result = await mixedRun();
  dir = await mkdtemp(join(tmpdir(), 'mp-html-'));
  file = join(dir, 'report.html');
  await writeFile(file, toHtml(result));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('HTML report (static)', () => {
  it('is self-contained: no external scripts, styles, images or fonts', () => {
    const html = toHtml(result);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/url\(|@import|https?:\/\//);
  });

  it('escapes what scenarios and targets say', () => {
    expect(toHtml(result)).toContain('CrashLoopBackOff &lt;exit 1&gt;');
  });
});

describeIfChromium('HTML report in headless chromium', () => {
  it('runs its script and shows summary, claims and a truth table with expected vs observed', async () => {
    const dom = await dumpDom(file);
    expect(dom).toContain('data-ready="true"');
    expect(dom).toMatch(/data-count="scenarios-FAIL"><b>2<\/b>/);
    expect(dom).toMatch(/data-count="probes-PASS"><b>4<\/b>/);
    expect(dom).toContain('<p class="claim">“claim of strict-mtls”</p>');
    expect(dom).toContain('<p class="source">source: test</p>');
    // strict-mtls: rows app/client, app/server, app/client · uid 1337; columns by destination port/protocol.
    const section = dom.slice(dom.indexOf('id="scenario-strict-mtls"'), dom.indexOf('id="scenario-flaky-one"'));
    expect(section.match(/<tbody><tr><th>([^<]+)<\/th>/)?.[1]).toBe('app/client');
    expect(section).toContain('<th>app/client · uid 1337</th>');
    expect(section).toContain('<th>app/server:8080/http</th>');
    expect(section).toContain('<th>app/server:9090/tcp</th>');
    expect(section).toMatch(
      /class="cell c-FAIL"[^>]*data-probe="probe-strict-mtls-plaintext-denied"[\s\S]*?expected: blocked: reset<\/span><span class="obs">observed: blocked: timeout/,
    );
    expect(section).toMatch(
      /data-probe="probe-strict-mtls-mtls-allowed"[\s\S]*?expected: reach, mTLS, peer ns\/app\/sa\/client, 200<\/span><span class="obs">observed: reach, mTLS, via sidecar, 200/,
    );
    // Evidence is collapsed until asked for.
    expect(dom).toMatch(/<details class="probe" id="probe-strict-mtls-plaintext-denied">/);
  }, 90_000);

  it("opens a probe's evidence and attempts when its cell is linked", async () => {
    const dom = await dumpDom(file, '#probe-strict-mtls-plaintext-denied');
    const open =
      dom.match(
        /<details class="probe highlight" id="probe-strict-mtls-plaintext-denied" open="">[\s\S]*?<\/details>\s*<details class="probe"/,
      )?.[0] ?? '';
    expect(open).toContain('expected a TCP reset, the connection timed out after 2.0 s');
    expect(open).toMatch(/<table class="attempts">[\s\S]*<td>not as expected<\/td><td>timeout, did not arrive<\/td>/);
  }, 90_000);

  it('renders a screenshot', async () => {
    const keep = process.env.MESHPROBE_SCREENSHOT_DIR;
    const png = join(keep ?? dir, 'report.png');
    await screenshot(file, png, 1280, 1800);
    expect((await stat(png)).size).toBeGreaterThan(20_000);
  }, 90_000);
});
