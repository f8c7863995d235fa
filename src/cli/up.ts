/** `meshprobe up [--profile P]`: a kind cluster with Istio and the probe image, left running. */
import { KindTarget } from '../targets/kind/index.js';
import { isProfileName, PROFILE_NAMES } from '../targets/kind/profiles.js';
import { TargetError } from '../targets/target.js';
import { EXIT, type RegisterCommand } from './common.js';

/** What `up` reports: the Istio version istiod runs as read from the cluster, not the one clusters/versions.yaml pins. */
export function upSummary(
  cluster: string,
  r: { created: boolean; profile: { name: string; versions: { istio: string } }; istioVersion: string },
): string {
  const pinned = r.istioVersion === r.profile.versions.istio ? '' : ` (clusters/versions.yaml pins ${r.profile.versions.istio})`;
  return `${r.created ? 'created' : 'reused'} kind cluster ${cluster} (profile ${r.profile.name}, istiod runs Istio ${r.istioVersion}${pinned}); context kind-${cluster}\n`;
}

export const registerUp: RegisterCommand = (program, setStatus) => {
  program
    .command('up')
    .description('create the kind cluster for a profile, install Istio and load the probe image')
    .option('--profile <name>', `cluster profile: ${PROFILE_NAMES.join(', ')}`, 'default')
    .option('--name <cluster>', 'kind cluster name', 'meshprobe')
    .action(async (o: { profile: string; name: string }) => {
      if (!isProfileName(o.profile)) {
        process.stderr.write(`meshprobe up: unknown profile "${o.profile}"; known: ${PROFILE_NAMES.join(', ')}\n`);
        return setStatus(EXIT.invalid);
      }
      const ctrl = new AbortController();
      const onInt = () => ctrl.abort();
      process.once('SIGINT', onInt);
      try {
        const r = await new KindTarget({ profile: o.profile, clusterName: o.name, keep: true, log: (l) => process.stderr.write(`${l}\n`) }).up(
          ctrl.signal,
        );
        process.stdout.write(upSummary(o.name, r));
        setStatus(EXIT.ok);
      } catch (err) {
        const hint = err instanceof TargetError && err.hint ? `\n  ${err.hint}` : '';
        process.stderr.write(`meshprobe up: ${(err as Error).message}${hint}\n`);
        setStatus(ctrl.signal.aborted ? EXIT.interrupted : EXIT.invalid);
      } finally {
        process.removeListener('SIGINT', onInt);
      }
    });
};
