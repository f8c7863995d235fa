/**
 * Limits on what a YAML document may expand to, checked before anything walks its data. An alias repeats its
 * anchored node, so nine levels of ten aliases are 10^9 nodes in 2 KB of text (a "billion laughs"); deep nesting
 * overflows recursive walkers. Both are refused with the position of the node that crosses the limit.
 *
 *   guardDocument(doc) → GuardIssue[]               on a `yaml` Document (positions; also unresolved aliases and
 *                                                    duplicate keys, which yaml's own uniqueKeys finds in O(n²))
 *   withinLimits(data) → boolean                     on plain data (the js-yaml fast path), in O(MAX_NODES)
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document } from 'yaml';

/** Nodes (keys, values, items) a document may have once its aliases are expanded: ~50x the biggest scenario. */
export const MAX_NODES = 200_000;
/** Nesting levels; real manifests stay under 15. */
export const MAX_DEPTH = 64;

export interface GuardIssue {
  /** offset in the text of the node at fault */
  offset: number;
  message: string;
}

class Stop extends Error {
  constructor(readonly issue: GuardIssue) {
    super(issue.message);
  }
}

interface Positioned {
  range?: [number, number, number] | null;
}

const offsetOf = (node: unknown): number => (node as Positioned | null)?.range?.[0] ?? 0;

export function guardDocument(doc: Document): GuardIssue[] {
  const sizes = new Map<unknown, number>();
  const open = new Set<unknown>();
  const issues: GuardIssue[] = [];
  // Anchors in document order, so an alias finds the last one before it (Alias.resolve would walk the whole
  // document for each alias: quadratic in the number of aliases).
  const anchors = new Map<string, unknown>();
  const keysOf = (node: unknown): Set<string> => {
    const keys = new Set<string>();
    for (const item of (node as { items: unknown[] }).items) {
      if (!isPair(item) || !isScalar(item.key)) continue;
      const key = String(item.key.value);
      if (keys.has(key)) issues.push({ offset: offsetOf(item.key), message: `duplicate key "${key}" (keys of a mapping must be unique)` });
      keys.add(key);
    }
    return keys;
  };

  const visit = (node: unknown, depth: number): number => {
    if (node === null || node === undefined) return 0;
    if (depth > MAX_DEPTH) throw new Stop({ offset: offsetOf(node), message: `nested more than ${MAX_DEPTH} levels deep` });
    if (isAlias(node)) {
      const target: unknown = anchors.get(node.source);
      if (target === undefined)
        throw new Stop({ offset: offsetOf(node), message: `unresolved alias *${node.source}: no anchor &${node.source} before it` });
      if (open.has(target)) throw new Stop({ offset: offsetOf(node), message: `alias *${node.source} refers to a node that contains it` });
      return sizes.get(target) ?? visit(target, depth);
    }
    const anchor = (node as { anchor?: unknown }).anchor;
    if (typeof anchor === 'string') anchors.set(anchor, node);
    if (isScalar(node)) return 1;
    if (!isMap(node) && !isSeq(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    if (isMap(node)) keysOf(node);
    open.add(node);
    let size = 1;
    const add = (child: unknown) => {
      size += visit(child, depth + 1);
      if (size > MAX_NODES) {
        const message = isAlias(child)
          ? `alias *${child.source} makes the document expand to more than ${MAX_NODES} nodes (too many or too deeply nested aliases)`
          : `document has more than ${MAX_NODES} nodes`;
        throw new Stop({ offset: offsetOf(child), message });
      }
    };
    for (const item of node.items as unknown[]) {
      if (isPair(item)) {
        add(item.key);
        add(item.value);
      } else add(item);
    }
    open.delete(node);
    sizes.set(node, size);
    return size;
  };

  try {
    visit(doc.contents, 0);
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    issues.push(err.issue);
  }
  return issues;
}

/**
 * Same limits on already parsed data, where an alias is a shared reference: sizes and heights are memoized per
 * object, so the work is linear in the distinct nodes however often they are shared.
 */
export function withinLimits(data: unknown): boolean {
  const memo = new Map<object, { size: number; height: number }>();
  const measure = (value: unknown, depth: number): { size: number; height: number } | undefined => {
    if (depth > MAX_DEPTH) return undefined;
    if (typeof value !== 'object' || value === null) return { size: 1, height: 0 };
    const known = memo.get(value);
    if (known) return depth + known.height <= MAX_DEPTH ? known : undefined;
    const children = Array.isArray(value) ? value : Object.values(value);
    let size = 1 + (Array.isArray(value) ? 0 : children.length);
    let height = 0;
    for (const child of children) {
      const m = measure(child, depth + 1);
      if (!m) return undefined;
      size += m.size;
      height = Math.max(height, m.height + 1);
      if (size > MAX_NODES) return undefined;
    }
    const result = { size, height };
    memo.set(value, result);
    return result;
  };
  return measure(data, 0) !== undefined;
}
