/**
 * Keeps a finding's scenario deployed on the lab so a person can reproduce it by hand (commands.sh). On the lab
 * the agents and sidecars live in the meshprobe process (a `run --keep` leaves only namespaces, rules and logs),
 * so this deploys, prints how to reach each pod and a `ready lab=<id>` line, and holds until SIGINT or SIGTERM;
 * then everything is undeployed as after a run (the lab target's own signal handler tears it down).
 */
import { loadScenarios, formatError } from '../scenario/loader.js';
import { createTarget } from '../targets/index.js';
import { TargetError } from '../targets/target.js';

export async function holdLab(file: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const loaded = await loadScenarios([file]);
  if (loaded.errors.length || loaded.scenarios.length !== 1) {
    for (const e of loaded.errors) err.write(`${formatError(e)}\n`);
    if (!loaded.errors.length) err.write(`${file}: expected exactly one scenario (found ${loaded.scenarios.length})\n`);
    return 2;
  }
  const scenario = loaded.scenarios[0].scenario;
  const target = await createTarget('lab');
  try {
    await target.prepare();
    target.check(scenario);
    const dep = await target.deploy(scenario);
    for (const line of target.access?.(dep) ?? []) out.write(`${line}\n`);
    const lab = /ip netns exec mp-([a-z0-9]{4,8})-/.exec((target.access?.(dep) ?? []).join('\n'))?.[1] ?? '';
    out.write(`ready lab=${lab}\n`);
    await new Promise<void>((resolve) => {
      // Signal listeners do not keep node running and the lab's runtime threads are unref'd: a timer does.
      const alive = setInterval(() => undefined, 60_000);
      const done = () => {
        clearInterval(alive);
        resolve();
      };
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    return 0;
  } catch (e) {
    err.write(`meshprobe repro --hold: ${e instanceof TargetError && e.hint ? `${e.message} (${e.hint})` : (e as Error).message}\n`);
    return 2;
  } finally {
    await target.teardown();
  }
}
