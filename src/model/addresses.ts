/**
 * The address plan (pure): the address of every workload and external of a scenario. The lab gives its pods exactly
 * these (src/targets/lab/plan.ts) and the predictor reasons with them, so an ipBlock means the same to both.
 *
 * The ranges copy kind's defaults (pods 10.244.0.0/16, the docker network of externals 172.18.0.0/16), so a
 * NetworkPolicy ipBlock written for kind means the same in the lab. Addresses follow declaration order.
 */

export const POD_CIDR = '10.244.0.0/16';
export const EXTERNAL_CIDR = '172.18.0.0/16';
/** The node side of every veth answers for these gateway addresses (like Calico's 169.254.1.1). */
export const POD_GATEWAY = '10.244.0.1';
export const EXTERNAL_GATEWAY = '172.18.0.1';
/** One /24 each for pods and externals. */
export const MAX_HOSTS = 250;

/** The address of the `index`-th pod (workloads in declaration order, then the lab's egress gateway). */
export function podAddress(index: number): string {
  return `10.244.1.${index + 2}`;
}

export function externalAddress(index: number): string {
  return `172.18.0.${index + 2}`;
}

export interface AddressPlanInput {
  readonly workloads: readonly { readonly name: string; readonly namespace: string }[];
  readonly externals: readonly { readonly name: string }[];
}

/** `namespace/name` of every workload and the name of every external → its address. */
export function addressPlan(input: AddressPlanInput): Map<string, string> {
  if (input.workloads.length > MAX_HOSTS || input.externals.length > MAX_HOSTS) {
    throw new Error(`the lab supports at most ${MAX_HOSTS} workloads and ${MAX_HOSTS} externals`);
  }
  return new Map([
    ...input.workloads.map((w, i): [string, string] => [`${w.namespace}/${w.name}`, podAddress(i)]),
    ...input.externals.map((e, i): [string, string] => [e.name, externalAddress(i)]),
  ]);
}
