/**
 * AuthorizationPolicy fields that only exist from some Istio version on. A target running an older Istio does not
 * know them (its CRD schema has no such field, or it matched the value literally): they are refused by name, as
 * every other field the target would not enforce as written.
 * - `source.serviceAccounts` / `notServiceAccounts`, `when` key `source.serviceAccount`: Istio 1.25
 *   (istio/istio#54091, first tagged in 1.25.0).
 * - path templates `{*}` / `{**}` in `paths` / `notPaths`: Istio 1.22 (istio/istio#50365, first tagged in 1.22.0).
 * `destination.ip`, `connection.sni`, `remote.ip` / `remoteIpBlocks` predate every version the model follows.
 */
import semver from 'semver';
import { containsPathTemplate } from './path-template.js';
import { arrayAt, isObject, objectAt, stringAt, stringsAt } from './raw.js';

export const SERVICE_ACCOUNTS_SINCE = '1.25.0';
export const PATH_TEMPLATES_SINCE = '1.22.0';

function before(version: string | undefined, since: string): boolean {
  const v = version === undefined ? null : semver.coerce(version, { includePrerelease: true });
  return v !== null && semver.lt(v, since);
}

/** JSON paths of an AuthorizationPolicy's fields that Istio `version` does not have, each with the version needed. */
export function fieldsNewerThan(manifest: unknown, version: string | undefined): string[] {
  if (!isObject(manifest) || stringAt(manifest, 'kind') !== 'AuthorizationPolicy') return [];
  const needs = (since: string) => `(needs Istio ${since.replace(/\.0$/, '')}+, the target runs ${version})`;
  const out: string[] = [];
  arrayAt(objectAt(manifest, 'spec'), 'rules').forEach((rule, r) => {
    if (!isObject(rule)) return;
    if (before(version, SERVICE_ACCOUNTS_SINCE)) {
      arrayAt(rule, 'from').forEach((from, f) => {
        const source = isObject(from) ? objectAt(from, 'source') : undefined;
        for (const field of ['serviceAccounts', 'notServiceAccounts']) {
          if (source?.[field] !== undefined) out.push(`spec.rules[${r}].from[${f}].source.${field} ${needs(SERVICE_ACCOUNTS_SINCE)}`);
        }
      });
      arrayAt(rule, 'when').forEach((when, w) => {
        if (isObject(when) && stringAt(when, 'key') === 'source.serviceAccount') {
          out.push(`spec.rules[${r}].when[${w}].key=source.serviceAccount ${needs(SERVICE_ACCOUNTS_SINCE)}`);
        }
      });
    }
    if (before(version, PATH_TEMPLATES_SINCE)) {
      arrayAt(rule, 'to').forEach((to, t) => {
        const operation = isObject(to) ? objectAt(to, 'operation') : undefined;
        for (const field of ['paths', 'notPaths']) {
          stringsAt(operation, field).forEach((p, i) => {
            if (containsPathTemplate(p)) out.push(`spec.rules[${r}].to[${t}].operation.${field}[${i}]=${p} ${needs(PATH_TEMPLATES_SINCE)}`);
          });
        }
      });
    }
  });
  return out;
}
