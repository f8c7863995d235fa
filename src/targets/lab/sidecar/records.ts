/**
 * The sidecar's decision log as a reader sees it: each line is `<time> <dir> <from> -> <to> <result> | <json>`
 * (the JSON is the full DecisionRecord).
 */
import type { DecisionRecord } from './context.js';

const SEPARATOR = ' | {';

export function parseRecordLine(line: string): DecisionRecord | undefined {
  const at = line.indexOf(SEPARATOR);
  if (at < 0) return undefined;
  try {
    return JSON.parse(line.slice(at + 3)) as DecisionRecord;
  } catch {
    return undefined;
  }
}
