/** `meshprobe down`: deletes the kind cluster `up` created. */
import { requireTool } from '../targets/k8s/commands.js';
import { KindTarget } from '../targets/kind/index.js';
import { TargetError } from '../targets/target.js';
import { EXIT, type RegisterCommand } from './common.js';

export const registerDown: RegisterCommand = (program, setStatus) => {
  program
    .command('down')
    .description('delete the kind cluster created by `meshprobe up`')
    .option('--name <cluster>', 'kind cluster name', 'meshprobe')
    .action(async (o: { name: string }) => {
      try {
        await requireTool('kind');
        await new KindTarget({ clusterName: o.name }).down();
        process.stdout.write(`deleted kind cluster ${o.name}\n`);
        setStatus(EXIT.ok);
      } catch (err) {
        const hint = err instanceof TargetError && err.hint ? `\n  ${err.hint}` : '';
        process.stderr.write(`meshprobe down: ${(err as Error).message}${hint}\n`);
        setStatus(EXIT.failed);
      }
    });
};
