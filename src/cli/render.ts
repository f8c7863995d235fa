/** `meshprobe render --target kind --out DIR [paths…]`: every manifest and command of a run, without a cluster. */
import { formatError, loadScenarios } from '../scenario/loader.js';
import { newRunId } from '../targets/k8s/names.js';
import { renderRun } from '../targets/kind/render-run.js';
import { describeError, UnsafePathError } from '../report/files.js';
import { EXIT, type RegisterCommand } from './common.js';
import { AgentBundleError } from '../targets/k8s/agent-process.js';

export const registerRender: RegisterCommand = (program, setStatus) => {
  program
    .command('render')
    .description('write the manifests and commands a cluster run would use, without a cluster')
    .argument('[paths...]', 'scenario files or directories', ['scenarios'])
    .option('--target <target>', 'cluster target to render for (kind)', 'kind')
    .requiredOption('--out <dir>', 'directory to write into')
    .option('--run-id <id>', 'run id used in namespace names (default: random)')
    .option('--image <image>', 'probe image, for scenarios whose probes need it (default: the one `meshprobe up` builds)')
    .option('--stock-image <image>', 'stock Node image the agent is mounted into where the probes allow it (default node:22-slim)')
    .action(async (paths: string[], o: { target: string; out: string; runId?: string; image?: string; stockImage?: string }) => {
      if (o.target !== 'kind') {
        process.stderr.write(`meshprobe render: --target ${o.target} is not supported; only kind renders a full run\n`);
        return setStatus(EXIT.invalid);
      }
      const loaded = await loadScenarios(paths);
      if (loaded.errors.length) {
        process.stderr.write(loaded.errors.map((e) => `${formatError(e)}\n`).join(''));
        return setStatus(EXIT.invalid);
      }
      let r: Awaited<ReturnType<typeof renderRun>>;
      try {
        r = await renderRun(
          loaded.scenarios.map((l) => l.scenario),
          { outDir: o.out, runId: o.runId ?? newRunId(), image: o.image, stockImage: o.stockImage },
        );
      } catch (err) {
        const why =
          err instanceof UnsafePathError
            ? err.message
            : err instanceof AgentBundleError
              ? `${err.message}\n  ${err.hint}`
              : `could not write into ${o.out}: ${describeError(err)}`;
        process.stderr.write(`meshprobe render: ${why}\n`);
        return setStatus(EXIT.invalid);
      }
      for (const a of r.agents) process.stdout.write(`${a.scenario}: ${a.line}\n`);
      process.stdout.write(
        `wrote ${r.files.length} files to ${o.out} (${r.commands.filter((c) => !c.startsWith('#')).length} commands in commands.sh)\n`,
      );
      setStatus(EXIT.ok);
    });
};
