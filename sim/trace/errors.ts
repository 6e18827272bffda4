/**
 * Error codes of the trace layer (pcapng writer, frame synthesizers, event log).
 */
import { IserError } from '../../protocol/errors.js';

/** Stable codes thrown by `sim/trace`. */
export type TraceErrorCode =
  /** An address string (MAC, IPv4, IPv6) did not parse, or a Buffer address had the wrong length. */
  | 'ERR_TRACE_BAD_ADDRESS'
  /** A header field was outside its wire range (port, TTL, length, MSS...). */
  | 'ERR_TRACE_FIELD_RANGE'
  /** A timestamp was negative, not finite, or does not fit the 64-bit pcapng counter. */
  | 'ERR_TRACE_BAD_TIMESTAMP'
  /** A TCP stream was used in a state that does not allow it (send after close, ...). */
  | 'ERR_TRACE_STREAM_STATE'
  /** An event-log field could not be serialized (cycle, function, symbol). */
  | 'ERR_TRACE_UNSERIALIZABLE';

/** An error raised by the trace layer. */
export class TraceError extends IserError<TraceErrorCode> {}
