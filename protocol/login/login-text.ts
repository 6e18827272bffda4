/**
 * What both login machines share about text: limits, the outgoing side of continuation (a long text goes out in
 * pieces, each answered by an empty PDU from the peer, RFC 7143 §11.12.2), and sorting security keys (handled by
 * the authentication code) from the rest (handled by the TextNegotiator).
 */
import { DEFAULT_MAX_RECV_DATA_SEGMENT_LENGTH } from '../pdu/constants.js';
import { DEFAULT_MAX_TEXT_BYTES } from '../text/assembler.js';
import type { TextPair } from '../text/codec.js';
import { lookupKey } from '../text/keys.js';
import { splitText, type TextPiece } from '../text/split.js';
import { LoginError } from './errors.js';

/** Bounds on one login. */
export interface LoginLimits {
  /**
   * Largest data segment we put in one Login PDU: 1..8192 (default 8192). During login both sides may receive
   * 8192 bytes (RFC 7143 §13.12: MaxRecvDataSegmentLength is not in force yet); smaller values force continuation.
   */
  readonly maxDataSegmentLength?: number;
  /** Most bytes one continued text from the peer may hold (default 64 KiB, RFC 7143 §6.1). */
  readonly maxTextBytes?: number;
  /** Most PDUs we accept from the peer in one login (default 32): a login must end. */
  readonly maxRoundTrips?: number;
}

/** {@link LoginLimits} with defaults applied and checked. */
export interface ResolvedLoginLimits {
  readonly maxDataSegmentLength: number;
  readonly maxTextBytes: number;
  readonly maxRoundTrips: number;
}

/** Default bound on the PDUs of one login. */
export const DEFAULT_MAX_LOGIN_ROUND_TRIPS = 32;

/** Largest data segment either side may send during login. */
export const LOGIN_MAX_DATA_SEGMENT_LENGTH = DEFAULT_MAX_RECV_DATA_SEGMENT_LENGTH;

/** Applies defaults; throws ERR_LOGIN_BAD_CONFIG for a value out of range. */
export function resolveLimits(limits: LoginLimits | undefined, role: 'initiator' | 'target'): ResolvedLoginLimits {
  const check = (name: string, value: number, min: number, max: number): number => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new LoginError('ERR_LOGIN_BAD_CONFIG', `${name} must be an integer in ${min}..${max}, not ${value}`, {
        detectedBy: role,
      });
    }
    return value;
  };
  return {
    maxDataSegmentLength: check(
      'maxDataSegmentLength',
      limits?.maxDataSegmentLength ?? LOGIN_MAX_DATA_SEGMENT_LENGTH,
      1,
      LOGIN_MAX_DATA_SEGMENT_LENGTH,
    ),
    maxTextBytes: check('maxTextBytes', limits?.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES, 1, 16 * 1024 * 1024),
    maxRoundTrips: check('maxRoundTrips', limits?.maxRoundTrips ?? DEFAULT_MAX_LOGIN_ROUND_TRIPS, 1, 1 << 20),
  };
}

/** Pieces of our text still to go out, and the T/NSG the last piece carries. */
export class OutgoingText {
  readonly #maxDataSegmentLength: number;
  #pieces: TextPiece[] = [];
  #transit = false;
  #nextStage: 0 | 1 | 3 = 0;

  constructor(maxDataSegmentLength: number) {
    this.#maxDataSegmentLength = maxDataSegmentLength;
  }

  /** Queues a whole text; `transit`/`nextStage` go on its last piece. */
  load(pairs: readonly TextPair[], transit: boolean, nextStage: 0 | 1 | 3): void {
    this.#pieces = splitText(pairs, this.#maxDataSegmentLength);
    this.#transit = transit;
    this.#nextStage = nextStage;
  }

  /** True while pieces remain after the one last taken: the peer must answer with an empty PDU. */
  get pending(): boolean {
    return this.#pieces.length > 0;
  }

  /** The next piece, with its flags: C on all but the last; T only on the last (RFC 7143: never T with C). */
  take(): {
    readonly data: readonly Buffer[];
    readonly continues: boolean;
    readonly transit: boolean;
    readonly nextStage: 0 | 1 | 3;
  } {
    const piece = this.#pieces.shift() ?? { data: [], continues: false };
    const last = !piece.continues;
    return {
      data: piece.data,
      continues: piece.continues,
      transit: last && this.#transit,
      // NSG is reserved (zero) unless T is set.
      nextStage: last && this.#transit ? this.#nextStage : 0,
    };
  }
}

/** True for a key of RFC 7143 §12 (AuthMethod and the method-specific keys). */
export function isSecurityKey(key: string): boolean {
  return lookupKey(key)?.use === 'security';
}

/** Splits one text into security keys (by name; a text never repeats a key) and the rest. */
export function splitSecurityKeys(pairs: readonly TextPair[]): {
  readonly security: ReadonlyMap<string, string>;
  readonly other: readonly TextPair[];
} {
  const security = new Map<string, string>();
  const other: TextPair[] = [];
  for (const pair of pairs) {
    if (isSecurityKey(pair.key)) security.set(pair.key, pair.value);
    else other.push(pair);
  }
  return { security, other };
}

/** Total bytes of a data segment given as chunks. */
export function dataLength(data: readonly Buffer[]): number {
  let n = 0;
  for (const chunk of data) n += chunk.length;
  return n;
}
