/**
 * Validates a rendered manifest against the Kubernetes / Istio JSON schemas shipped in kubernetes-models and
 * @kubernetes-models/istio (model classes' validate()).
 */
interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

export async function validateManifest(m: { apiVersion: string; kind: string; [field: string]: unknown }): Promise<void> {
  const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
  const pkg = group.endsWith('istio.io') ? '@kubernetes-models/istio' : 'kubernetes-models';
  const modulePath = group ? `${pkg}/${group}/${version}/${m.kind}` : `${pkg}/${version}/${m.kind}`;
  const mod = (await import(modulePath)) as Record<string, ModelClass>;
  const Model = mod[m.kind];
  if (!Model) throw new Error(`no model for ${m.apiVersion} ${m.kind}`);
  new Model(m).validate();
}
