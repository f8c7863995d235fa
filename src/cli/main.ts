/**
 * The meshprobe command line: a thin shell over the library. Each command lives in its own module and returns
 * an exit status; nothing here decides anything a library caller would also need.
 */
import { Command, CommanderError } from 'commander';

export const EXIT = { ok: 0, failed: 1, invalid: 2, interrupted: 130 } as const;

export async function runCli(argv: string[]): Promise<number> {
  const program = new Command('meshprobe')
    .description("Prove with real traffic what an Istio mesh's security settings actually enforce.")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  let status: number = EXIT.ok;
  const setStatus = (n: number) => {
    status = n;
  };
  for (const register of await commands()) register(program, setStatus);

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

export type RegisterCommand = (program: Command, setStatus: (status: number) => void) => void;

/** Every command module; each adds itself to the program. To add one: one line `(await import('./x.js')).registerX,`. */
async function commands(): Promise<RegisterCommand[]> {
  return [
    (await import('./validate.js')).registerValidate,
    (await import('./list.js')).registerList,
    (await import('./run.js')).registerRun,
    (await import('./lab.js')).registerLab,
  ];
}
