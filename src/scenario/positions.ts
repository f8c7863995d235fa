/**
 * Maps a field path inside a parsed YAML document back to a line and column, so every error can point at the
 * offending key or value. When the path does not exist (a required field is missing), the nearest existing
 * ancestor is returned: the mapping the field belongs in.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';

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

type MapNode = Extract<ReturnType<typeof asMap>, object>;
const asMap = (n: unknown) => (isMap(n) ? n : undefined);
const pairIndex = new WeakMap<object, Map<string, Pair>>();

/** Key → pair of a mapping, built once per mapping: one lookup per error keeps reporting linear in their number. */
function pairsOf(node: MapNode): Map<string, Pair> {
  let index = pairIndex.get(node);
  if (!index) {
    index = new Map();
    for (const p of node.items) if (isPair(p) && isScalar(p.key) && !index.has(String(p.key.value))) index.set(String(p.key.value), p);
    pairIndex.set(node, index);
  }
  return index;
}

/** Offset of the key (at: 'key') or value (at: 'value') at `path`, or of the nearest existing ancestor. */
function locateOffset(doc: Document, path: readonly PathSegment[], at: 'key' | 'value'): number {
  let node: unknown = doc.contents;
  let offset = start(doc.contents as Node | null) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = pairsOf(node).get(String(seg));
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
