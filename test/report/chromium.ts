/** Headless Debian chromium for checking the HTML report: the DOM after its script ran, and screenshots. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CHROMIUM = process.env.MESHPROBE_CHROMIUM ?? '/usr/bin/chromium';

async function chromium(args: string[]): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'mp-chromium-'));
  try {
    const { stdout } = await run(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** The serialized DOM after scripts ran. `fragment` opens the page at #fragment. */
export function dumpDom(file: string, fragment = ''): Promise<string> {
  return chromium(['--virtual-time-budget=2000', '--dump-dom', `${pathToFileURL(file).href}${fragment}`]);
}

export async function screenshot(file: string, png: string, width = 1280, height = 1600, fragment = ''): Promise<void> {
  await chromium([`--screenshot=${png}`, `--window-size=${width},${height}`, '--hide-scrollbars', `${pathToFileURL(file).href}${fragment}`]);
}
