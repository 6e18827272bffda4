/**
 * Reassembly of text spread over several Login or Text PDUs with the Continue (C) bit (RFC 7143 §11.10.2,
 * §11.12.2): a pair may be split anywhere, even inside its key. Sans-IO: PDUs' data segments in, pairs out.
 */
import { decodeText, type DecodeTextOptions, type TextPair } from './codec.js';
import { TextError } from './errors.js';

/** RFC 7143 §6.1: 64 KiB of key=value text is what an authentication method with long items may need. */
export const DEFAULT_MAX_TEXT_BYTES = 64 * 1024;

/** Options of a {@link TextAssembler}. */
export interface TextAssemblerOptions extends DecodeTextOptions {
  /** Most bytes one continued text may hold (default 64 KiB). */
  readonly maxBytes?: number;
}

/** Collects data segments until one arrives without the C bit, then decodes the whole text. */
export class TextAssembler {
  readonly #maxBytes: number;
  readonly #decodeOptions: DecodeTextOptions;
  #chunks: Buffer[] = [];
  #length = 0;

  constructor(options: TextAssemblerOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_TEXT_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new TextError('ERR_TEXT_BAD_CONFIG', `maxBytes must be a positive integer, not ${maxBytes}`);
    }
    this.#maxBytes = maxBytes;
    this.#decodeOptions = { allowDuplicateKeys: options.allowDuplicateKeys ?? false };
  }

  /** Bytes held for a text still being continued. */
  get pendingBytes(): number {
    return this.#length;
  }

  /**
   * Adds one PDU's data segment. Returns the decoded pairs when `continues` is false (the text is complete),
   * or undefined while more PDUs are expected. Throws {@link TextError} past the bound or on malformed text;
   * after a throw the assembler is empty again.
   */
  push(segment: Buffer | readonly Buffer[], continues: boolean): TextPair[] | undefined {
    const chunks = Buffer.isBuffer(segment) ? [segment] : segment;
    for (const chunk of chunks) {
      if (this.#length + chunk.length > this.#maxBytes) {
        this.reset();
        throw new TextError('ERR_TEXT_TOO_LONG', `continued text exceeds ${this.#maxBytes} bytes`);
      }
      // Copied: a transport may reuse its receive buffers (iSER reposts them) before the text is complete.
      if (chunk.length > 0) this.#chunks.push(Buffer.from(chunk));
      this.#length += chunk.length;
    }
    if (continues) return undefined;
    const whole = this.#chunks;
    this.reset();
    return decodeText(whole, this.#decodeOptions);
  }

  /** Drops any partial text (e.g. after a login restarts). */
  reset(): void {
    this.#chunks = [];
    this.#length = 0;
  }
}
