/**
 * Cluster profiles (clusters/<name>/): a kind cluster config, Istio install settings and the features they give.
 * Loading validates the three files against each other, so a profile cannot claim REGISTRY_ONLY while installing
 * ALLOW_ANY. `profileFor` is the pure rule the engine uses to group scenarios by the cluster they need.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { z } from 'zod';
import type { Scenario } from '../../scenario/schema.js';

export const PROFILE_NAMES = ['default', 'registry-only', 'egress-gateway', 'cni'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** src/targets/kind and dist/targets/kind are both three levels below the package root. */
export const CLUSTERS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../clusters');

const features = z.strictObject({
  outboundTrafficPolicy: z.enum(['ALLOW_ANY', 'REGISTRY_ONLY']),
  egressGateway: z.boolean(),
  cni: z.boolean(),
});
export type ProfileFeatures = z.infer<typeof features>;

const profileFile = z.strictObject({
  name: z.enum(PROFILE_NAMES),
  description: z.string().min(1),
  features,
  calicoManifest: z.url().optional(),
});

const kindNode = z.looseObject({
  role: z.enum(['control-plane', 'worker']),
  image: z.string().regex(/^kindest\/node:v[0-9.]+@sha256:[0-9a-f]{64}$/, 'must be a kindest/node image pinned by digest'),
});
const kindConfig = z.looseObject({
  kind: z.literal('Cluster'),
  apiVersion: z.literal('kind.x-k8s.io/v1alpha4'),
  networking: z.looseObject({ disableDefaultCNI: z.boolean().optional() }).optional(),
  nodes: z.array(kindNode).min(1),
});

const istioOperator = z.looseObject({
  apiVersion: z.literal('install.istio.io/v1alpha1'),
  kind: z.literal('IstioOperator'),
  spec: z.looseObject({
    profile: z.string().optional(),
    meshConfig: z.looseObject({ outboundTrafficPolicy: z.looseObject({ mode: z.enum(['ALLOW_ANY', 'REGISTRY_ONLY']) }).optional() }).optional(),
    components: z
      .looseObject({
        egressGateways: z.array(z.looseObject({ name: z.string(), enabled: z.boolean() })).optional(),
        cni: z.looseObject({ enabled: z.boolean() }).optional(),
      })
      .optional(),
  }),
});

const versionsFile = z.strictObject({
  kind: z.string().regex(/^v\d+\.\d+\.\d+$/),
  kindNodeImage: z.string(),
  istio: z.string().regex(/^\d+\.\d+\.\d+$/),
  calico: z.string(),
  kindSha256: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
  istioctlSha256: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
});
export type Versions = z.infer<typeof versionsFile>;

export interface Profile {
  name: ProfileName;
  description: string;
  features: ProfileFeatures;
  calicoManifest?: string;
  dir: string;
  kindConfigPath: string;
  istioOperatorPath: string;
  kindConfig: z.infer<typeof kindConfig>;
  istioOperator: z.infer<typeof istioOperator>;
  versions: Versions;
}

export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

async function readYaml<T>(file: string, schema: z.ZodType<T>): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ProfileError(`${file}: cannot be read`);
  }
  const parsed = schema.safeParse(YAML.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProfileError(`${file}: ${issue.path.join('.') || '(document)'}: ${issue.message}`);
  }
  return parsed.data;
}

export async function loadVersions(dir = CLUSTERS_DIR): Promise<Versions> {
  return readYaml(path.join(dir, 'versions.yaml'), versionsFile);
}

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

export async function loadProfile(name: string, dir = CLUSTERS_DIR): Promise<Profile> {
  if (!isProfileName(name)) {
    throw new ProfileError(`unknown cluster profile "${name}"; known: ${PROFILE_NAMES.join(', ')}`);
  }
  const profileDir = path.join(dir, name);
  const kindConfigPath = path.join(profileDir, 'kind.yaml');
  const istioOperatorPath = path.join(profileDir, 'istio.yaml');
  const meta = await readYaml(path.join(profileDir, 'profile.yaml'), profileFile);
  const profile: Profile = {
    ...meta,
    dir: profileDir,
    kindConfigPath,
    istioOperatorPath,
    kindConfig: await readYaml(kindConfigPath, kindConfig),
    istioOperator: await readYaml(istioOperatorPath, istioOperator),
    versions: await loadVersions(dir),
  };
  checkConsistent(profile);
  return profile;
}

/** The profile's declared features must be what its kind config and IstioOperator actually install. */
export function checkConsistent(p: Profile): void {
  const where = `clusters/${p.name}`;
  if (p.name !== path.basename(p.dir)) throw new ProfileError(`${where}/profile.yaml: name must be "${path.basename(p.dir)}"`);
  const spec = p.istioOperator.spec;
  const mode = spec.meshConfig?.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
  if (mode !== p.features.outboundTrafficPolicy) {
    throw new ProfileError(`${where}/istio.yaml: outboundTrafficPolicy is ${mode} but profile.yaml declares ${p.features.outboundTrafficPolicy}`);
  }
  const egress = (spec.components?.egressGateways ?? []).some((g) => g.enabled);
  if (egress !== p.features.egressGateway) {
    throw new ProfileError(
      `${where}/istio.yaml: egress gateway ${egress ? 'enabled' : 'absent'} but profile.yaml declares egressGateway: ${p.features.egressGateway}`,
    );
  }
  const cni = spec.components?.cni?.enabled ?? false;
  const calico = p.kindConfig.networking?.disableDefaultCNI ?? false;
  if (cni !== p.features.cni || calico !== p.features.cni || (p.features.cni && !p.calicoManifest)) {
    throw new ProfileError(
      `${where}: cni profile needs disableDefaultCNI in kind.yaml, components.cni in istio.yaml and calicoManifest in profile.yaml together`,
    );
  }
  for (const node of p.kindConfig.nodes) {
    if (node.image !== p.versions.kindNodeImage) {
      throw new ProfileError(`${where}/kind.yaml: node image ${node.image} differs from clusters/versions.yaml kindNodeImage`);
    }
  }
}

function selectsGateway(scenario: Scenario, which: 'egressgateway' | 'ingressgateway'): boolean {
  return scenario.spec.resources.some((r) => {
    const selector = (r.spec as { selector?: Record<string, unknown> } | undefined)?.selector;
    return r.kind === 'Gateway' && selector?.istio === which;
  });
}

const selectsEgressGateway = (s: Scenario) => selectsGateway(s, 'egressgateway');

/** Scenarios about the Istio CNI plugin say so with the `cni` tag (scenario 20); only the cni profile has it. */
function needsCni(scenario: Scenario): boolean {
  return scenario.metadata.tags?.includes('cni') ?? false;
}

/**
 * The profile a scenario needs. Mesh-wide settings cannot be changed per scenario on a shared cluster, so
 * REGISTRY_ONLY scenarios run on a REGISTRY_ONLY cluster and egress-gateway Gateways on one that has the gateway.
 */
export function profileFor(scenario: Scenario): ProfileName {
  const registryOnly = scenario.spec.mesh?.outboundTrafficPolicy === 'REGISTRY_ONLY';
  if (selectsEgressGateway(scenario)) return 'egress-gateway';
  if (needsCni(scenario)) return 'cni';
  return registryOnly ? 'registry-only' : 'default';
}

/** Whether a cluster built from `profile` can run the scenario (used to refuse, e.g., `up --profile cni`). */
export function profileSatisfies(profile: ProfileFeatures, scenario: Scenario): string | undefined {
  // No stated policy means the scenario does not depend on it.
  const wanted = scenario.spec.mesh?.outboundTrafficPolicy;
  if (wanted !== undefined && wanted !== profile.outboundTrafficPolicy) {
    return `spec.mesh.outboundTrafficPolicy is ${wanted} but the cluster runs ${profile.outboundTrafficPolicy}; use --profile ${profileFor(scenario)}`;
  }
  // The profiles leave meshConfig.pathNormalization unset: Istio's default, BASE.
  const normalization = scenario.spec.mesh?.pathNormalization;
  if (normalization !== undefined && normalization !== 'BASE') {
    return `spec.mesh.pathNormalization is ${normalization} but the kind profiles run Istio's default (BASE); run it on the lab, or on a cluster configured that way with --target existing`;
  }
  if (selectsEgressGateway(scenario) && !profile.egressGateway) {
    return 'a Gateway selects istio: egressgateway but the cluster has no egress gateway; use --profile egress-gateway';
  }
  if (selectsGateway(scenario, 'ingressgateway')) {
    return 'a Gateway selects istio: ingressgateway, and no kind profile installs an ingress gateway (istioctl analyze reports IST0101); use an existing cluster that has one, or --target lab';
  }
  if (needsCni(scenario) && !profile.cni) return 'the scenario is about the Istio CNI plugin (tag cni) but the cluster has none; use --profile cni';
  return undefined;
}
