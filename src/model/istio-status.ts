/**
 * Release and feature status, as Istio publishes them (Security Best Practices: "Release and security policy" and
 * "Avoid alpha and experimental features"). Two small tables, each copied from istio.io with its source and the
 * commit it was read at; nothing here needs traffic. A version newer than the release table is reported as such,
 * never guessed: the table is what this meshprobe version knows.
 */

/** Where each table comes from (istio/istio.io, file at commit). */
export const RELEASES_SOURCE =
  'istio.io docs/releases/supported-releases (istio/istio.io data/compatibility/supportStatus.yml @ 0a759c7f, the "Support status of Istio releases" table)';
export const FEATURES_SOURCE = 'istio.io docs/releases/feature-stages (istio/istio.io data/features.yaml @ 0e1ad3f8, the "Istio features" list)';
/** The support policy on the same page: "Support provided until 6 weeks after the N+2 minor release". */
export const SUPPORT_POLICY = 'a minor release is supported until 6 weeks after the N+2 minor release';
export const SUPPORTED_RELEASES_URL = 'https://istio.io/latest/docs/releases/supported-releases/';

interface Release {
  readonly minor: string;
  readonly supported: boolean;
  readonly releaseDate: string;
  readonly eolDate: string;
}

/** Newest first, as in supportStatus.yml. */
const RELEASES: readonly Release[] = [
  { minor: '1.22', supported: true, releaseDate: 'May 13, 2024', eolDate: '~Jan 2025 (Expected)' },
  { minor: '1.21', supported: true, releaseDate: 'Mar 13, 2024', eolDate: '~Sept 2024 (Expected)' },
  { minor: '1.20', supported: false, releaseDate: 'Nov 14, 2023', eolDate: 'Jun 25, 2024' },
  { minor: '1.19', supported: false, releaseDate: 'Sept 5, 2023', eolDate: 'Apr 24, 2024' },
  { minor: '1.18', supported: false, releaseDate: 'Jun 3, 2023', eolDate: 'Jan 4, 2024' },
  { minor: '1.17', supported: false, releaseDate: 'Feb 14, 2023', eolDate: 'Oct 27, 2023' },
  { minor: '1.16', supported: false, releaseDate: 'Nov 15, 2022', eolDate: 'Jul 25, 2023' },
  { minor: '1.15', supported: false, releaseDate: 'Aug 31, 2022', eolDate: 'Apr 4, 2023' },
  { minor: '1.14', supported: false, releaseDate: 'May 24, 2022', eolDate: 'Dec 27, 2022' },
  { minor: '1.13', supported: false, releaseDate: 'Feb 11, 2022', eolDate: 'Oct 12, 2022' },
];

export type ReleaseState = 'supported' | 'end-of-life' | 'newer-than-known' | 'unknown';

export interface ReleaseStatus {
  readonly version: string;
  readonly state: ReleaseState;
  /** One sentence for reports. */
  readonly text: string;
  readonly releaseDate?: string;
  readonly eolDate?: string;
  /** The releases the table knows, oldest–newest. */
  readonly known: string;
  readonly source: string;
}

const minorNumber = (minor: string) => Number(minor.split('.')[1]);

/** The target's Istio version against the supported releases this meshprobe version knows. */
export function releaseStatus(version: string): ReleaseStatus {
  const newest = RELEASES[0]!;
  const oldest = RELEASES[RELEASES.length - 1]!;
  const known = `${oldest.minor}–${newest.minor}`;
  const base = { version, known, source: RELEASES_SOURCE };
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(version.trim());
  if (m?.[1] !== '1') return { ...base, state: 'unknown', text: `Istio version "${version}" is not a 1.x release this table can place` };
  const minor = `1.${Number(m[2])}`;
  const row = RELEASES.find((r) => r.minor === minor);
  if (row) {
    const state = row.supported ? 'supported' : 'end-of-life';
    return {
      ...base,
      state,
      releaseDate: row.releaseDate,
      eolDate: row.eolDate,
      text: row.supported
        ? `Istio ${minor} (released ${row.releaseDate}) was supported when this table was taken, end of life ${row.eolDate}; ${SUPPORT_POLICY}`
        : `Istio ${minor} is no longer supported (end of life ${row.eolDate}): it receives no security patches`,
    };
  }
  if (Number(m[2]) > minorNumber(newest.minor))
    return {
      ...base,
      state: 'newer-than-known',
      text: `Istio ${minor} is newer than the releases this meshprobe version knows (${known}): check ${SUPPORTED_RELEASES_URL}`,
    };
  return {
    ...base,
    state: 'end-of-life',
    text: `Istio ${minor} is older than ${oldest.minor}, out of support since ${oldest.eolDate} at the latest`,
  };
}

export type FeatureMaturity = 'Experimental' | 'Alpha';

interface FeatureRow {
  /** The feature's name in Istio's list. */
  readonly feature: string;
  readonly maturity: FeatureMaturity;
  /** How a scenario uses it: a manifest kind (any API version of that group). */
  readonly kind: string;
  readonly group: string;
}

/** Features of Istio's list a scenario can use through a manifest, at Alpha or Experimental. */
const FEATURES: readonly FeatureRow[] = [
  { feature: 'Enabling custom filters in Envoy', maturity: 'Alpha', kind: 'EnvoyFilter', group: 'networking.istio.io' },
  { feature: 'WebAssembly Extension', maturity: 'Alpha', kind: 'WasmPlugin', group: 'extensions.istio.io' },
];

export interface FeatureFlag {
  /** `Kind namespace/name`, and the step that applies it when not the top-level resources. */
  readonly resource: string;
  readonly feature: string;
  readonly maturity: FeatureMaturity;
  readonly source: string;
}

interface Manifest {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  readonly metadata?: { readonly name?: unknown; readonly namespace?: unknown };
}

/** The scenario's manifests (top level and every step's `apply`) that use an Alpha or Experimental feature. */
export function featureFlags(spec: {
  readonly resources?: readonly Manifest[];
  readonly steps?: readonly { name: string; apply?: readonly Manifest[] }[];
}): FeatureFlag[] {
  const all: Array<[Manifest, string | undefined]> = [
    ...(spec.resources ?? []).map((r): [Manifest, undefined] => [r, undefined]),
    ...(spec.steps ?? []).flatMap((s) => (s.apply ?? []).map((r): [Manifest, string] => [r, s.name])),
  ];
  const out: FeatureFlag[] = [];
  for (const [r, step] of all) {
    const group = typeof r.apiVersion === 'string' ? r.apiVersion.split('/')[0] : '';
    const row = FEATURES.find((f) => f.kind === r.kind && f.group === group);
    if (!row) continue;
    const ns = typeof r.metadata?.namespace === 'string' ? `${r.metadata.namespace}/` : '';
    const name = typeof r.metadata?.name === 'string' ? r.metadata.name : '?';
    out.push({
      resource: `${row.kind} ${ns}${name}${step ? ` (step ${step})` : ''}`,
      feature: row.feature,
      maturity: row.maturity,
      source: FEATURES_SOURCE,
    });
  }
  return out;
}
