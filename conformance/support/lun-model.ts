/**
 * The in-memory model of a LUN region the data properties check reads against. A block is known, or — after a
 * write that was aborted — either its old or its new content, all blocks of that write together: the first read
 * that sees one of them decides for the whole write, and a read that sees both old and new blocks of one write is a
 * torn write.
 */
import { blockBytes, contentName, describeBytes, identify, sameContent, ZERO, type BlockContent } from './patterns.js';

type BlockState =
  | { readonly kind: 'known'; readonly content: BlockContent }
  | { readonly kind: 'either'; readonly old: BlockContent; readonly next: BlockContent; readonly group: number };

/** What a read found wrong. */
export interface ReadMismatch {
  readonly kind: 'mismatch' | 'torn';
  readonly message: string;
}

/** The model of `blocks` blocks (all zeros at first). */
export class LunModel {
  readonly #blocks: BlockState[];
  #nextWrite = 1;
  #nextGroup = 1;

  constructor(readonly blockCount: number) {
    this.#blocks = Array.from({ length: blockCount }, () => ({ kind: 'known', content: ZERO }) as const);
  }

  /** A fresh write id (contents of different writes never compare equal). */
  newWrite(): number {
    return this.#nextWrite++;
  }

  /** The contents a write of `blocks` blocks with id `write` puts down. */
  static contents(write: number, blocks: number): BlockContent[] {
    return Array.from({ length: blocks }, (_, index) => ({ kind: 'pattern', write, index }) as const);
  }

  /** A write that completed. */
  write(lba: number, contents: readonly BlockContent[]): void {
    contents.forEach((content, i) => {
      this.#blocks[lba + i] = { kind: 'known', content };
    });
  }

  /** A write that was aborted: each block is old or new, all together. */
  abortedWrite(lba: number, contents: readonly BlockContent[]): void {
    const group = this.#nextGroup++;
    contents.forEach((next, i) => {
      const state = this.#blocks[lba + i];
      if (state === undefined) return;
      // Properties read an aborted write back before the next command, so a block is never in doubt twice.
      const old = state.kind === 'known' ? state.content : state.old;
      this.#blocks[lba + i] = { kind: 'either', old, next, group };
    });
  }

  /** The content of each block, or undefined where an aborted write left it undecided. */
  known(lba: number, blocks: number): BlockContent[] | undefined {
    const out: BlockContent[] = [];
    for (let i = 0; i < blocks; i++) {
      const state = this.#blocks[lba + i];
      if (state?.kind !== 'known') return undefined;
      out.push(state.content);
    }
    return out;
  }

  /** Checks a read of `data` at `lba` and settles the aborted writes it reveals. */
  checkRead(lba: number, data: Buffer, blockSize: number): ReadMismatch | undefined {
    const blocks = Math.floor(data.length / blockSize);
    const choices = new Map<number, { readonly chose: 'old' | 'new'; readonly lba: number }>();
    for (let i = 0; i < blocks; i++) {
      const at = lba + i;
      const state = this.#blocks[at];
      const bytes = data.subarray(i * blockSize, (i + 1) * blockSize);
      if (state === undefined) continue;
      if (state.kind === 'known') {
        if (!blockBytes(state.content, blockSize).equals(bytes)) {
          return {
            kind: 'mismatch',
            message: `block ${at} should hold ${contentName(state.content)} but holds ${this.#name(bytes, blockSize)}`,
          };
        }
        continue;
      }
      const found = identify(bytes, [state.next, state.old], blockSize);
      if (found === undefined) {
        return {
          kind: 'torn',
          message:
            `block ${at} of an aborted write should hold ${contentName(state.old)} or ${contentName(state.next)} ` +
            `but holds ${mixture(bytes, state.old, state.next, blockSize) ?? this.#name(bytes, blockSize)}`,
        };
      }
      const chose = sameContent(found, state.next) ? 'new' : 'old';
      const earlier = choices.get(state.group);
      if (earlier !== undefined && earlier.chose !== chose) {
        return {
          kind: 'torn',
          message: `torn write: block ${earlier.lba} holds the ${earlier.chose} content and block ${at} the ${chose} content of one aborted write`,
        };
      }
      choices.set(state.group, { chose, lba: at });
    }
    // Settle every block of each revealed write, inside the read or not (all or nothing).
    this.#blocks.forEach((state, at) => {
      if (state.kind !== 'either') return;
      const choice = choices.get(state.group);
      if (choice !== undefined)
        this.#blocks[at] = { kind: 'known', content: choice.chose === 'new' ? state.next : state.old };
    });
    return undefined;
  }

  #name(bytes: Buffer, blockSize: number): string {
    const candidates = new Map<string, BlockContent>();
    for (const state of this.#blocks) {
      const list = state.kind === 'known' ? [state.content] : [state.old, state.next];
      for (const c of list) candidates.set(contentName(c), c);
    }
    const found = identify(bytes, [...candidates.values()], blockSize);
    return found === undefined ? describeBytes(bytes) : contentName(found);
  }
}

/** `the first N bytes of new, then old` when a block is torn inside itself; undefined when it is not that. */
function mixture(bytes: Buffer, old: BlockContent, next: BlockContent, blockSize: number): string | undefined {
  const a = blockBytes(next, blockSize);
  const b = blockBytes(old, blockSize);
  for (const [first, second] of [
    [a, b],
    [b, a],
  ] as const) {
    let split = 0;
    while (split < bytes.length && bytes[split] === first[split]) split++;
    if (split > 0 && bytes.subarray(split).equals(second.subarray(split))) {
      const [firstName, secondName] =
        first === a ? [contentName(next), contentName(old)] : [contentName(old), contentName(next)];
      return `its first ${split} bytes from ${firstName} and the other ${bytes.length - split} from ${secondName} (torn inside the block)`;
    }
  }
  return undefined;
}
