/** Loads scenario text through the real loader from a temporary file, errors formatted as users see them. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatError, loadScenarios } from '../../src/scenario/loader.js';

export function textLoader(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return {
    async load(text: string) {
      const file = join(dir, `s${n++}.yaml`);
      writeFileSync(file, text);
      const r = await loadScenarios([file]);
      return { scenarios: r.scenarios, errors: r.errors.map(formatError) };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
