/** Reading untyped manifest objects safely: every accessor returns a typed value or undefined, never throws. */

export type RawObject = Readonly<Record<string, unknown>>;

export function isObject(value: unknown): value is RawObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function objectAt(obj: RawObject | undefined, key: string): RawObject | undefined {
  const value = obj?.[key];
  return isObject(value) ? value : undefined;
}

export function arrayAt(obj: RawObject | undefined, key: string): readonly unknown[] {
  const value = obj?.[key];
  return Array.isArray(value) ? value : [];
}

export function stringAt(obj: RawObject | undefined, key: string): string | undefined {
  const value = obj?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** String lists; Istio's ports are strings in AuthorizationPolicy but numbers are accepted too. */
export function stringsAt(obj: RawObject | undefined, key: string): string[] {
  return arrayAt(obj, key).flatMap((v) => (typeof v === 'string' ? [v] : typeof v === 'number' ? [String(v)] : []));
}

export function labelsAt(obj: RawObject | undefined, key: string): Record<string, string> | undefined {
  const value = objectAt(obj, key);
  if (!value) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}
