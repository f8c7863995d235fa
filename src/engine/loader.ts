/**
 * The engine's view of the scenario loader (src/scenario/loader.ts): `loadScenarios(paths)` returns every
 * scenario with where it came from, plus every input error; `formatError` renders an error as `file:line:col …`.
 * Imported lazily so the engine has one seam to the loader and library callers can pass their own `load`.
 */
import type { Scenario } from '../scenario/schema.js';

export interface LoadedScenario {
  scenario: Scenario;
  file: string;
  /** Index of the YAML document in its file (0-based). */
  doc: number;
  line: number;
}

export interface LoadResult {
  scenarios: LoadedScenario[];
  /** Input errors, already rendered as `file:line:col: field: message`. */
  errors: string[];
}

export type Load = (paths: string[]) => Promise<LoadResult>;

interface LoaderModule {
  loadScenarios(paths: string[]): LoadResultOf<unknown> | Promise<LoadResultOf<unknown>>;
  formatError(e: unknown): string;
}

interface LoadResultOf<E> {
  scenarios: LoadedScenario[];
  errors: E[];
}

// A variable specifier keeps this file compiling while the loader is written in parallel.
const LOADER_MODULE = '../scenario/loader.js';

/** Loads scenarios with the project's loader. */
export const loadWithScenarioLoader: Load = async (paths) => {
  let mod: LoaderModule;
  try {
    mod = (await import(LOADER_MODULE)) as LoaderModule;
  } catch (err) {
    throw new Error(`the scenario loader (src/scenario/loader.ts) is not available in this build: ${(err as Error).message}`);
  }
  const result = await mod.loadScenarios(paths);
  return { scenarios: result.scenarios, errors: result.errors.map((e) => mod.formatError(e)) };
};
