/**
 * Error codes of `sim/roce`: the RoCEv2 wire layer (transport headers, ICRC, IB CM MADs, rdma_cm private data)
 * and the soft-RoCE provider built on it (its options and links). Failures of verbs calls are `VerbsError`s.
 *
 * Every decoder here treats its input as hostile and throws only {@link RoceError}; every encoder throws it too
 * when asked to put a value on the wire that does not fit its field.
 */
import { IserError } from '../../protocol/errors.js';

/** Stable codes thrown by `sim/roce`. */
export type RoceErrorCode =
  /** Fewer bytes than the headers or the message need. */
  | 'ERR_ROCE_TRUNCATED'
  /** A BTH opcode that is not an RC, UC or UD opcode rxe knows. */
  | 'ERR_ROCE_UNKNOWN_OPCODE'
  /** PadCnt disagrees with the bytes after the headers (pad must make the payload a multiple of 4). */
  | 'ERR_ROCE_BAD_PAD'
  /** Payload bytes where the opcode carries none, or the wrong fixed size (ATOMIC_WRITE carries exactly 8). */
  | 'ERR_ROCE_BAD_PAYLOAD_LENGTH'
  /** An AETH syndrome with a reserved type (bits 7:5 not 000, 001 or 011). */
  | 'ERR_ROCE_BAD_AETH'
  /** An encoder was given a value outside its wire field, or extension headers that do not match the opcode. */
  | 'ERR_ROCE_INVALID_FIELD'
  /** The ICRC on the wire is not the one computed over the packet. */
  | 'ERR_ROCE_ICRC_MISMATCH'
  /** An IP or UDP header (or address) that the RoCEv2 frame helper cannot use. */
  | 'ERR_ROCE_BAD_IP'
  /** A MAD that is not a 256-byte IB CM MAD (base version 1, class 0x07, class version 2, method Send). */
  | 'ERR_CM_BAD_MAD'
  /** A CM attribute ID this codec does not decode (ClassPortInfo, LAP, APR, unknown). */
  | 'ERR_CM_UNSUPPORTED_ATTRIBUTE'
  /** A length field inside a CM message (REJ ARI length, SIDR additional info length) beyond its area. */
  | 'ERR_CM_BAD_LENGTH'
  /** rdma_cm private data that is not a valid `cma_hdr` (version, IP version nibble). */
  | 'ERR_CM_BAD_CMA_HEADER'
  /** A soft-RoCE option out of range (MTU, timeout exponent, retry count, address, port). */
  | 'ERR_SOFTROCE_CONFIG'
  /** A link could not be opened or used (bind failed, unknown peer, closed). */
  | 'ERR_SOFTROCE_LINK';

/** An error raised by the RoCEv2 wire layer. */
export class RoceError extends IserError<RoceErrorCode> {}
