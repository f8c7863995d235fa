/**
 * The meshprobe command line: a thin shell over the library. Each command lives in its own module and returns
 * an exit status; nothing here decides anything a library caller would also need.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT, guardStdio, settleOutput, type RegisterCommand } from './common.js';

/**
 * Runs one command and returns its exit status. stdout and stderr are guarded first (src/cli/common.ts): a closed
 * pipe or a full disk drops output instead of ending the process in the middle of a run.
 */
export async function runCli(argv: string[]): Promise<number> {
  guardStdio();
  return settleOutput(await dispatch(argv));
}

async function dispatch(argv: string[]): Promise<number> {
  const program = new Command('meshprobe')
    .description("Prove with real traffic what an Istio mesh's security settings actually enforce.")
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  let status: number = EXIT.ok;
  const setStatus = (n: number) => {
    status = n;
  };
  for (const register of await commands(argv[2])) register(program, setStatus);

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    process.stderr.write(`meshprobe: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.invalid;
  }
  return status;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/**
 * Every command module by name; each adds itself to the program. To add one: a line
 * `name: async () => (await import('./x.js')).registerX,`. Only the invoked command's module is loaded, so
 * `meshprobe validate` does not pay for the run engine or the cluster clients; help and unknown names load all.
 */
const COMMANDS: Record<string, () => Promise<RegisterCommand>> = {
  validate: async () => (await import('./validate.js')).registerValidate,
  list: async () => (await import('./list.js')).registerList,
  run: async () => (await import('./run.js')).registerRun,
  lab: async () => (await import('./lab.js')).registerLab,
  matrix: async () => (await import('./matrix.js')).registerMatrix,
  diff: async () => (await import('./diff.js')).registerDiff,
  audit: async () => (await import('./audit.js')).registerAudit,
  up: async () => (await import('./up.js')).registerUp,
  down: async () => (await import('./down.js')).registerDown,
  render: async () => (await import('./render.js')).registerRender,
  repro: async () => (await import('./repro.js')).registerRepro,
};

async function commands(invoked: string | undefined): Promise<RegisterCommand[]> {
  const one = invoked !== undefined && Object.hasOwn(COMMANDS, invoked) ? [COMMANDS[invoked]] : Object.values(COMMANDS);
  return Promise.all(one.map((load) => load()));
}
