/**
 * Block contents the data properties write: each block is a function of a small id (the write that made it and
 * the block's place in it), so the model stores ids, not bytes, and a mismatch report can name the write a block
 * came from.
 */
import { createHash } from 'node:crypto';

/** What a block holds: zeros, or the pattern of (`write`, `index`). */
export type BlockContent =
  { readonly kind: 'zero' } | { readonly kind: 'pattern'; readonly write: number; readonly index: number };

/** Zeros. */
export const ZERO: BlockContent = { kind: 'zero' };

/** A short name for reports: `zero` or `w12.3`. */
export function contentName(content: BlockContent): string {
  return content.kind === 'zero' ? 'zero' : `w${content.write}.${content.index}`;
}

/** Equal contents. */
export function sameContent(a: BlockContent, b: BlockContent): boolean {
  return (
    a.kind === b.kind && (a.kind === 'zero' || (b.kind === 'pattern' && a.write === b.write && a.index === b.index))
  );
}

const cache = new Map<string, Buffer>();

/** The bytes of one block (cached; at most a few thousand distinct blocks per run). */
export function blockBytes(content: BlockContent, blockSize: number): Buffer {
  if (content.kind === 'zero') return Buffer.alloc(blockSize);
  const key = `${blockSize}:${content.write}:${content.index}`;
  let bytes = cache.get(key);
  if (bytes === undefined) {
    const out = Buffer.alloc(blockSize);
    // A tag a person can find in a hex dump, then SHA-256 counter-mode noise (no block equals another or zeros).
    out.write(`iser:w${content.write}.${content.index}:`, 'latin1');
    for (let offset = 32, counter = 0; offset < blockSize; offset += 32, counter++) {
      createHash('sha256').update(`${key}:${counter}`).digest().copy(out, offset);
    }
    if (cache.size > 8192) cache.clear();
    cache.set(key, out);
    bytes = out;
  }
  return bytes;
}

/** Which of the candidate contents `bytes` holds, if any. */
export function identify(
  bytes: Buffer,
  candidates: readonly BlockContent[],
  blockSize: number,
): BlockContent | undefined {
  return candidates.find((c) => blockBytes(c, blockSize).equals(bytes));
}

/** What a block that matches no candidate looks like, for reports. */
export function describeBytes(bytes: Buffer): string {
  if (bytes.every((b) => b === 0)) return 'zeros';
  const tag = /^iser:w(\d+)\.(\d+):/.exec(bytes.subarray(0, 32).toString('latin1'));
  if (tag !== null) return `the tag of w${tag[1]}.${tag[2]} with other bytes after it`;
  return `unknown bytes ${bytes.subarray(0, 16).toString('hex')}…`;
}
