/**
 * The dependency rule of docs/architecture.md, checked by dependency-cruiser (`npm run check:deps`, and
 * test/architecture/dependencies.test.ts in `npm test`). Paths are relative to the directory depcruise runs in,
 * so the same rules also run on the small violation tree under test/architecture/fixtures/.
 *
 * Type-only imports count (tsPreCompilationDeps): a type from a target's internals ties the importer to that
 * target as much as a value does. The agent is the one exception, as a type-only import adds nothing to its bundle.
 */
const path = require('node:path');

/** A target's public interface: the factory and the Target contract. Everything else under src/targets is internal. */
const TARGET_INTERFACE = '^src/targets/(index|target)[.]ts$';

module.exports = {
  forbidden: [
    {
      name: 'model-imports-no-target',
      comment: 'src/model is the pure semantics of Istio and Kubernetes; the targets act on it, never the reverse.',
      severity: 'error',
      from: { path: '^src/model/' },
      to: { path: '^src/targets/' },
    },
    {
      name: 'scenario-imports-no-target',
      comment: 'the scenario format and its loader know nothing of where a scenario runs.',
      severity: 'error',
      from: { path: '^src/scenario/' },
      to: { path: '^src/targets/' },
    },
    {
      name: 'predict-uses-target-interface-only',
      comment: 'the predictor reads semantics from src/model and drives a target only through targets/index.ts and targets/target.ts.',
      severity: 'error',
      from: { path: '^src/predict/' },
      to: { path: '^src/targets/', pathNot: TARGET_INTERFACE },
    },
    {
      name: 'engine-uses-target-interface-only',
      comment: 'the engine never knows which target it drives.',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/targets/', pathNot: TARGET_INTERFACE },
    },
    {
      name: 'cli-command-imports-no-command',
      comment: 'a command imports the library and src/cli/common.ts, never another command or main.ts.',
      severity: 'error',
      from: { path: '^src/cli/', pathNot: '^src/cli/main[.]ts$' },
      to: { path: '^src/cli/', pathNot: '^src/cli/common[.]ts$' },
    },
    {
      name: 'library-imports-no-cli',
      comment: 'the CLI is a thin shell over the library; nothing in the library depends on it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'agent-imports-only-itself',
      comment: 'the agent is bundled alone into every workload: from the rest of src/ it takes types only.',
      severity: 'error',
      from: { path: '^src/agent/' },
      to: { path: '^src/', pathNot: '^src/agent/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'agent-imports-no-package',
      comment: 'the agent bundle holds node built-ins only (scripts/bundle-agent.mjs); a package would be copied into every workload.',
      severity: 'error',
      from: { path: '^src/agent/' },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'],
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'src-imports-no-test',
      comment: 'tests depend on the sources, never the reverse.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve would hide a dependency from every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: path.join(__dirname, 'tsconfig.json') },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'] },
    reporterOptions: { text: { highlightFocused: false } },
  },
};
