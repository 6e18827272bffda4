/**
 * Text Request handling of one connection in full feature phase (RFC 7143 §6.1, §11.10-11.11): reassembles a
 * request the initiator continued over several PDUs (answering each piece with an empty response and a Target
 * Transfer Tag), answers the complete text, and hands out a long answer a data segment at a time, each further
 * piece asked for by an empty request carrying our TTT. A request with TTT 0xffffffff starts a new exchange and
 * drops any unfinished one.
 */
import { RESERVED_TAG } from '../pdu/constants.js';
import { RejectReason } from '../pdu/reject-reason.js';
import type { TextRequestPdu } from '../pdu/text.js';
import { TextAssembler } from '../text/assembler.js';
import type { TextPair } from '../text/codec.js';
import { TextError } from '../text/errors.js';
import { splitText, type TextPiece } from '../text/split.js';
import { totalLength } from './data-sequencing-chunks.js';

/** How the responder answers and numbers. */
export interface TextResponderOptions {
  /** Most bytes of one continued request. */
  readonly maxTextBytes: number;
  /** Answers one complete text; a TextError becomes a Reject. */
  readonly answer: (pairs: readonly TextPair[]) => TextPair[];
  /** Largest data segment the initiator accepts. */
  readonly maxSendDataSegmentLength: () => number;
  /** A fresh Target Transfer Tag (never 0xffffffff). */
  readonly nextTag: () => number;
}

/** What to send back for one Text Request. */
export type TextStep =
  | {
      readonly kind: 'respond';
      readonly final: boolean;
      readonly continues: boolean;
      readonly ttt: number;
      readonly data: readonly Buffer[];
    }
  | { readonly kind: 'reject'; readonly reason: number; readonly message: string };

/** The text exchange state of one connection. */
export class TextResponder {
  readonly #options: TextResponderOptions;
  #itt = RESERVED_TAG;
  #ttt = RESERVED_TAG;
  #assembler: TextAssembler | undefined;
  #pending: TextPiece[] = [];
  #requestFinal = true;

  constructor(options: TextResponderOptions) {
    this.#options = options;
  }

  /** True while an exchange waits for the initiator's next request. */
  get open(): boolean {
    return this.#ttt !== RESERVED_TAG;
  }

  /** Takes one Text Request. */
  receive(pdu: TextRequestPdu): TextStep {
    if (pdu.ttt !== RESERVED_TAG) {
      if (pdu.ttt !== this.#ttt || pdu.itt !== this.#itt) {
        return this.#reject(RejectReason.InvalidPduField, `Text Request TTT ${pdu.ttt} belongs to no exchange`);
      }
      if (this.#pending.length > 0) {
        if (totalLength(pdu.data) > 0 || pdu.continue) {
          return this.#reject(RejectReason.ProtocolError, 'text sent while our continued answer was incomplete');
        }
        return this.#nextPiece();
      }
    } else {
      this.#reset();
      this.#itt = pdu.itt;
    }
    if (pdu.continue && pdu.final) return this.#reject(RejectReason.ProtocolError, 'Text Request sets both F and C');
    this.#requestFinal = pdu.final;
    this.#assembler ??= new TextAssembler({ maxBytes: this.#options.maxTextBytes });
    let pairs: TextPair[] | undefined;
    let answer: TextPair[];
    try {
      pairs = this.#assembler.push(pdu.data, pdu.continue);
      if (pairs === undefined) return this.#respond([], false, false, this.#tag());
      this.#assembler = undefined;
      answer = this.#options.answer(pairs);
    } catch (err) {
      if (err instanceof TextError) return this.#reject(err.rejectReason, err.message);
      throw err;
    }
    this.#pending = splitText(answer, Math.max(1, this.#options.maxSendDataSegmentLength()));
    return this.#nextPiece();
  }

  #nextPiece(): TextStep {
    const piece = this.#pending.shift() ?? { data: [], continues: false };
    const last = this.#pending.length === 0;
    // A request without F keeps the exchange open: our answer may not be final either (RFC 7143 §11.11.1).
    const final = last && this.#requestFinal;
    if (final) {
      this.#reset();
      return this.#respond(piece.data, true, false, RESERVED_TAG);
    }
    return this.#respond(piece.data, false, piece.continues, this.#tag());
  }

  #tag(): number {
    if (this.#ttt === RESERVED_TAG) this.#ttt = this.#options.nextTag();
    return this.#ttt;
  }

  #respond(data: readonly Buffer[], final: boolean, continues: boolean, ttt: number): TextStep {
    return { kind: 'respond', final, continues, ttt, data };
  }

  #reject(reason: number, message: string): TextStep {
    this.#reset();
    return { kind: 'reject', reason, message };
  }

  #reset(): void {
    this.#itt = RESERVED_TAG;
    this.#ttt = RESERVED_TAG;
    this.#assembler = undefined;
    this.#pending = [];
    this.#requestFinal = true;
  }
}
