/**
 * Maps a field path inside a parsed YAML document back to a line and column, so every error can point at the
 * offending key or value. When the path does not exist (a required field is missing), the nearest existing
 * ancestor is returned: the mapping the field belongs in.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export type PathSegment = string | number;

export interface Position {
  line: number;
  col: number;
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

function start(node: Node | null | undefined): number | undefined {
  return node?.range?.[0];
}

/** Offset of the key (at: 'key') or value (at: 'value') at `path`, or of the nearest existing ancestor. */
function locateOffset(doc: Document, path: readonly PathSegment[], at: 'key' | 'value'): number {
  let node: unknown = doc.contents;
  let offset = start(doc.contents as Node | null) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return offset;
      const keyOffset = start(pair.key as Node) ?? offset;
      const valueOffset = start(pair.value as Node | null);
      if (last && at === 'key') return keyOffset;
      offset = valueOffset ?? keyOffset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
      offset = start(node as Node) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

export function locate(doc: Document, lineCounter: LineCounter, path: readonly PathSegment[], at: 'key' | 'value'): Position {
  const { line, col } = lineCounter.linePos(locateOffset(doc, path, at));
  return { line, col };
}
