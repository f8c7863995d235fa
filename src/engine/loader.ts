/**
 * The engine's seam to the scenario loader (src/scenario/loader.ts): every scenario with where it came from, plus
 * every input error rendered as `file:line:col: field: message`. Library callers may pass their own `load`.
 */
import { formatError, loadScenarios, type LoadedScenario } from '../scenario/loader.js';

export type { LoadedScenario } from '../scenario/loader.js';

export interface LoadResult {
  scenarios: LoadedScenario[];
  /** Input errors, already rendered as `file:line:col: field: message`. */
  errors: string[];
}

export type Load = (paths: string[]) => Promise<LoadResult>;

/** Loads scenarios with the project's loader. */
export const loadWithScenarioLoader: Load = async (paths) => {
  const result = await loadScenarios(paths);
  return { scenarios: result.scenarios, errors: result.errors.map(formatError) };
};
