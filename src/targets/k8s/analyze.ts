/**
 * `istioctl analyze -o json` findings: parsed, split into errors (the scenario is ERROR: its config would be
 * judged stale or rejected) and lower-level findings (reported), and shown in the scenario's own names.
 */
import { z } from 'zod';
import type { NamespaceMap } from './names.js';
import { reverseText } from './rewrite.js';

const finding = z.looseObject({
  code: z.string(),
  level: z.enum(['Error', 'Warning', 'Info']),
  message: z.string(),
  origin: z.string().optional(),
  reference: z.string().optional(),
  documentationUrl: z.string().optional(),
});
export type Finding = z.infer<typeof finding>;

export interface AnalysisResult {
  errors: Finding[];
  others: Finding[];
}

/** Output of `istioctl analyze -o json`: a JSON array (an empty run prints `[]`). */
export function parseAnalyzeJson(stdout: string): Finding[] {
  const text = stdout.trim();
  if (text === '') return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`istioctl analyze -o json printed something that is not JSON: ${text.slice(0, 200)}`);
  }
  const parsed = z.array(finding).safeParse(json);
  if (!parsed.success) throw new Error(`istioctl analyze -o json: unexpected shape: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

export function classifyFindings(findings: Finding[], map: NamespaceMap): AnalysisResult {
  const shown = findings.map((f) => ({
    ...f,
    message: reverseText(map, f.message),
    ...(f.origin ? { origin: reverseText(map, f.origin) } : {}),
  }));
  return { errors: shown.filter((f) => f.level === 'Error'), others: shown.filter((f) => f.level !== 'Error') };
}

export function describeFinding(f: Finding): string {
  return `${f.level} ${f.code}${f.origin ? ` (${f.origin})` : ''}: ${f.message}`;
}
