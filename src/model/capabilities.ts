/**
 * Which Linux capabilities a container's process can use, as containerd/runc set a Kubernetes container up: the
 * bounding set is the runtime's default set plus `securityContext.capabilities.add` (nothing with
 * `drop: [ALL]`); inheritable and ambient sets are empty. A process running as uid 0 therefore has the bounding
 * set as its permitted and effective sets; a process of any other uid has NO effective capability, whatever is
 * added (kubernetes/kubernetes#56374; Docker: `--cap-add NET_ADMIN --user 1000` → iptables "Permission denied",
 * `--cap-add SETUID --user 1000` → setpriv "Operation not permitted"). The lab starts pod processes this way and
 * the predictor and `validate` read the same rule from here.
 */

/** The uid the probe image runs as (Dockerfile `USER 1000:1000`, as Istio's samples): a workload without runAsUser. */
export const IMAGE_DEFAULT_UID = 1000;

/** containerd's (and Docker's) default capability set of a container. */
export const RUNTIME_DEFAULT_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
] as const;

export interface ContainerIdentity {
  readonly uid: number;
  /** Capability names as in the scenario (NET_ADMIN …), added to the runtime's defaults. */
  readonly capabilities: readonly string[];
  /** `drop: [ALL]` (as Istio's sidecar container has): the bounding set is empty. */
  readonly dropAll?: boolean;
}

/** The container's bounding set: the runtime's defaults plus what is added, or nothing with `drop: [ALL]`. */
export function boundingSet(id: ContainerIdentity): string[] {
  return id.dropAll ? [] : [...new Set([...RUNTIME_DEFAULT_CAPABILITIES, ...id.capabilities])];
}

/** What a process of the container can use: the bounding set as uid 0, nothing as any other uid. */
export function effectiveCapabilities(id: ContainerIdentity): string[] {
  return id.uid === 0 ? boundingSet(id) : [];
}

/** Can the container's process flush its pod's nat table (flush-capture)? Needs NET_ADMIN in effect. */
export function canFlushCapture(id: ContainerIdentity): boolean {
  return effectiveCapabilities(id).includes('NET_ADMIN');
}

/**
 * Can the container's process start a process as `uid` (a probe `as` another uid: `setpriv --reuid --regid
 * --clear-groups`)? Its own uid always; another needs SETUID and SETGID in effect, so uid 0.
 */
export function canRunAs(id: ContainerIdentity, uid: number): boolean {
  if (uid === id.uid) return true;
  const eff = effectiveCapabilities(id);
  return eff.includes('SETUID') && eff.includes('SETGID');
}

/** Why a non-root container cannot use an added capability, for error messages and prediction reasons. */
export function nonRootNote(id: ContainerIdentity): string {
  return `a container running as uid ${id.uid} has no effective capabilities whatever it adds (kubernetes/kubernetes#56374)`;
}
