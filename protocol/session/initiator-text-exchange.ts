/**
 * One full-feature text exchange (RFC 7143 §6.1, §11.10-11.11) from the initiator's side: our text, cut into PDUs
 * with the C bit, each acknowledged by the target; the target's answer, reassembled across C-bit PDUs and
 * across responses with F=0 (each fetched with an empty request echoing its TTT) until a response with F=1.
 *
 * It decides what to send next; the session builds the PDUs (ITT, CmdSN, ExpStatSN). With a negotiator it
 * renegotiates: the target's offers in each answer are answered in the next request.
 * Everything the target sends is bounded: responses per exchange, and bytes of text in all.
 */
import { RESERVED_TAG } from '../pdu/constants.js';
import type { TextResponsePdu } from '../pdu/text.js';
import { TextAssembler } from '../text/assembler.js';
import type { TextPair } from '../text/codec.js';
import { TextError } from '../text/errors.js';
import type { TextNegotiator } from '../text/negotiator.js';
import { splitText, type TextPiece } from '../text/split.js';
import { InitiatorSessionError } from './initiator-errors.js';
import { totalLength } from './data-sequencing-chunks.js';

/** Bounds on one exchange. */
export interface TextExchangeLimits {
  /** Most Text Responses one exchange may take (default 1024). */
  readonly maxResponses?: number;
  /** Most bytes of text the target may send in one exchange (default 1 MiB). */
  readonly maxBytes?: number;
}

/** Options of a {@link TextExchange}. */
export interface TextExchangeOptions extends TextExchangeLimits {
  /** What we send. */
  readonly pairs: readonly TextPair[];
  /** The target's MaxRecvDataSegmentLength: our pieces are at most this long. */
  readonly maxSendSegmentLength: number;
  /** Accept repeated keys in the answer (SendTargets). */
  readonly allowDuplicateKeys?: boolean;
  /** Renegotiation: the target's offers are answered through this negotiator. */
  readonly negotiator?: TextNegotiator;
}

/** What to do after a response. */
export type TextExchangeStep =
  /** Send a Text Request with this data segment and flags, echoing `ttt`. */
  | { readonly type: 'send'; readonly piece: TextPiece; readonly ttt: number }
  /** The exchange is over: the target's pairs (answers, or SendTargets records). */
  | { readonly type: 'done'; readonly pairs: readonly TextPair[] }
  /** The target broke the exchange's rules. */
  | { readonly type: 'error'; readonly error: InitiatorSessionError };

const EMPTY: TextPiece = { data: [], continues: false };

/** The initiator's half of one text exchange. */
export class TextExchange {
  readonly #pieces: TextPiece[];
  readonly #assembler: TextAssembler;
  readonly #negotiator: TextNegotiator | undefined;
  readonly #maxResponses: number;
  readonly #maxBytes: number;
  readonly #maxSendSegmentLength: number;
  readonly #received: TextPair[] = [];
  #responses = 0;
  #bytes = 0;

  /** Splits our text; throws TextError when it cannot be encoded. */
  constructor(options: TextExchangeOptions) {
    this.#maxSendSegmentLength = options.maxSendSegmentLength;
    this.#pieces = splitText(options.pairs, options.maxSendSegmentLength);
    this.#maxResponses = options.maxResponses ?? 1024;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#assembler = new TextAssembler({
      maxBytes: this.#maxBytes,
      allowDuplicateKeys: options.allowDuplicateKeys ?? false,
    });
    this.#negotiator = options.negotiator;
  }

  /** The first Text Request's data and C bit (its TTT is 0xffffffff). */
  first(): TextPiece {
    return this.#pieces.shift() ?? EMPTY;
  }

  /** Takes the target's next Text Response. */
  receive(pdu: TextResponsePdu): TextExchangeStep {
    this.#responses += 1;
    if (this.#responses > this.#maxResponses) {
      return this.#fail(`the target sent more than ${this.#maxResponses} Text Responses in one exchange`);
    }
    this.#bytes += totalLength(pdu.data);
    if (this.#bytes > this.#maxBytes) return this.#fail(`the target sent more than ${this.#maxBytes} bytes of text`);
    if (pdu.final && pdu.continue) return this.#fail('a Text Response set both F and C');
    if (!pdu.final && pdu.ttt === RESERVED_TAG) {
      return this.#fail('a Text Response with F=0 carries the reserved TTT: the exchange cannot continue');
    }

    const next = this.#pieces.shift();
    if (next !== undefined) {
      // The target acknowledges a piece of our continued text: it must say nothing yet.
      if (pdu.final || totalLength(pdu.data) > 0) {
        return this.#fail('the target answered before our continued text was complete');
      }
      return { type: 'send', piece: next, ttt: pdu.ttt };
    }

    let pairs: TextPair[] | undefined;
    try {
      pairs = this.#assembler.push(pdu.data, pdu.continue);
    } catch (err) {
      if (err instanceof TextError) return this.#fail(`malformed text from the target: ${err.message}`, err);
      throw err;
    }
    // More of this text follows: fetch it with an empty request.
    if (pairs === undefined) return { type: 'send', piece: EMPTY, ttt: pdu.ttt };

    let reply: readonly TextPair[] = [];
    if (this.#negotiator !== undefined) {
      try {
        reply = this.#negotiator.receive(pairs, 'full-feature').reply;
      } catch (err) {
        if (err instanceof TextError) return this.#fail(`renegotiation failed: ${err.message}`, err);
        throw err;
      }
    }
    this.#received.push(...pairs);
    if (pdu.final) {
      if (reply.length > 0) return this.#fail('the target ended the exchange (F=1) while offering keys');
      return { type: 'done', pairs: this.#received };
    }
    if (reply.length === 0) return { type: 'send', piece: EMPTY, ttt: pdu.ttt };
    this.#pieces.push(...splitText(reply, this.#maxSendSegmentLength));
    return { type: 'send', piece: this.#pieces.shift() ?? EMPTY, ttt: pdu.ttt };
  }

  #fail(message: string, cause?: unknown): TextExchangeStep {
    return {
      type: 'error',
      error: new InitiatorSessionError('ERR_SESSION_PROTOCOL', message, cause === undefined ? {} : { cause }),
    };
  }
}
