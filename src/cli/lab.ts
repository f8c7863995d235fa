/**
 * `meshprobe lab clean`: removes what labs of earlier runs left behind when their owning process was killed
 * (namespaces mp-<labid>-…, their processes, /etc/netns entries, state under /run/meshprobe/labs). Labs whose
 * owner is still running, and anything without a lab's ownership marker, are left alone.
 */
import { cleanStaleLabs } from '../targets/lab/state.js';
import { EXIT, type RegisterCommand } from './common.js';

export async function labCleanCommand(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('meshprobe lab clean: needs root (it deletes network namespaces); run it with sudo\n');
    return EXIT.invalid;
  }
  const removed = await cleanStaleLabs();
  process.stdout.write(removed.length ? `removed ${removed.length} stale lab(s): ${removed.join(', ')}\n` : 'no stale labs\n');
  return EXIT.ok;
}

export const registerLab: RegisterCommand = (program, setStatus) => {
  const lab = program.command('lab').description('the embedded lab target');
  lab
    .command('clean')
    .description('remove leftovers of labs whose run was killed (only those carrying a lab ownership marker)')
    .action(async () => setStatus(await labCleanCommand()));
};
