/**
 * Finding where a value sits in a YAML document, so that a schema error can point at its line and column: walk
 * the node tree along the error's path; when the path runs out of existing nodes (a missing key), stop at the
 * deepest node that exists.
 */
import { isMap, isNode, isPair, isScalar, isSeq, type LineCounter, type Node, type Document } from 'yaml';
import type { SourcePosition } from './errors.js';

/** Where a path leads in a document. */
export interface Located {
  /** Position of the node found (or of its key, when asked for). */
  readonly position: SourcePosition;
  /** True when the whole path was found; false when it stopped early at the deepest existing node. */
  readonly found: boolean;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function position(node: Node | undefined, lineCounter: LineCounter): SourcePosition {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/**
 * Locates `path` (object keys and array indices, as zod reports them) in `document`. With `at: 'key'` the last
 * segment names a map key and the key itself is located rather than its value.
 */
export function locate(
  document: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  at: 'value' | 'key' = 'value',
): Located {
  let node: Node | undefined = isNode(document.contents) ? document.contents : undefined;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    const last = i === path.length - 1;
    let next: Node | undefined;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(segment));
      if (pair !== undefined && last && at === 'key' && isNode(pair.key)) {
        return { position: position(pair.key, lineCounter), found: true };
      }
      // A key with no value (`luns:`) has a null value node, or none: point at the key then.
      next = pair === undefined ? undefined : isNode(pair.value) ? pair.value : isNode(pair.key) ? pair.key : undefined;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      next = isNode(item) ? item : undefined;
    }
    if (next === undefined) return { position: position(node, lineCounter), found: false };
    node = next;
  }
  return { position: position(node, lineCounter), found: true };
}
