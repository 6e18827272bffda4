/**
 * What to do with one transmission request, decided without I/O: the checks proto.md asks of a server (known
 * command, documented flags, read-only, bounds, alignment, payload size) and the error value for each failure.
 */
import { Command, CommandFlag, NbdErrno } from './constants.js';
import type { BlockSizes, RequestHeader } from './wire.js';

/** The export as one connection sees it after the handshake. */
export interface ExportView {
  /** Export size in bytes, fixed when the client entered transmission. */
  readonly size: bigint;
  /** Size constraints. */
  readonly blockSizes: BlockSizes;
  /** True when writes must fail with EPERM. */
  readonly readOnly: boolean;
}

/** The outcome of checking a request. */
export type RequestVerdict =
  | { readonly kind: 'disconnect' }
  | {
      readonly kind: 'error';
      /** Error value for the reply. */
      readonly errno: NbdErrno;
      /** Why, for logs. */
      readonly reason: string;
    }
  /** A zero-length read or write: succeed without touching the device. */
  | { readonly kind: 'empty' }
  | { readonly kind: 'read'; readonly offset: number; readonly length: number }
  | { readonly kind: 'write'; readonly offset: number; readonly length: number; readonly fua: boolean }
  | { readonly kind: 'flush' }
  | { readonly kind: 'trim'; readonly offset: number; readonly length: number; readonly fua: boolean }
  | {
      readonly kind: 'write-zeroes';
      readonly offset: number;
      readonly length: number;
      readonly fua: boolean;
      readonly noHole: boolean;
    };

const KNOWN = new Set<number>([
  Command.READ,
  Command.WRITE,
  Command.DISC,
  Command.FLUSH,
  Command.TRIM,
  Command.WRITE_ZEROES,
]);

/** The command flags each command accepts; FUA is accepted everywhere, as the spec requires once advertised. */
function allowedFlags(type: number): number {
  return type === Command.WRITE_ZEROES ? CommandFlag.FUA | CommandFlag.NO_HOLE : CommandFlag.FUA;
}

function error(errno: NbdErrno, reason: string): RequestVerdict {
  return { kind: 'error', errno, reason };
}

/** Decides what a request asks for, or which error answers it. `shuttingDown` answers ESHUTDOWN. */
export function checkRequest(request: RequestHeader, view: ExportView, shuttingDown = false): RequestVerdict {
  const { type, flags, offset, length } = request;
  if (type === Command.DISC) return { kind: 'disconnect' };
  if (shuttingDown) return error(NbdErrno.ESHUTDOWN, 'the export is going away');
  if (!KNOWN.has(type)) return error(NbdErrno.EINVAL, `unsupported command ${type}`);
  if ((flags & ~allowedFlags(type)) !== 0) {
    return error(NbdErrno.EINVAL, `command flags 0x${flags.toString(16)} not valid for command ${type}`);
  }
  const writes = type === Command.WRITE || type === Command.TRIM || type === Command.WRITE_ZEROES;
  if (writes && view.readOnly) return error(NbdErrno.EPERM, 'the export is read-only');
  const fua = (flags & CommandFlag.FUA) !== 0;
  if (type === Command.FLUSH) {
    if (offset !== 0n || length !== 0) return error(NbdErrno.EINVAL, 'flush with a nonzero offset or length');
    return { kind: 'flush' };
  }
  if (offset + BigInt(length) > view.size) {
    // The spec asks for ENOSPC on writes past the end and EINVAL on everything else.
    return error(type === Command.WRITE ? NbdErrno.ENOSPC : NbdErrno.EINVAL, 'range beyond the end of the export');
  }
  if (offset + BigInt(length) > BigInt(Number.MAX_SAFE_INTEGER)) {
    return error(NbdErrno.EOVERFLOW, 'offset beyond 2^53 bytes');
  }
  const start = Number(offset);
  const { minimum, maximum } = view.blockSizes;
  if (start % minimum !== 0 || length % minimum !== 0) {
    return error(NbdErrno.EINVAL, `range not aligned to the ${minimum}-byte block`);
  }
  if ((type === Command.READ || type === Command.WRITE) && length > maximum) {
    return error(NbdErrno.EINVAL, `payload ${length} exceeds the maximum ${maximum}`);
  }
  if (length === 0) return { kind: 'empty' };
  switch (type) {
    case Command.READ:
      return { kind: 'read', offset: start, length };
    case Command.WRITE:
      return { kind: 'write', offset: start, length, fua };
    case Command.TRIM:
      return { kind: 'trim', offset: start, length, fua };
    default:
      return { kind: 'write-zeroes', offset: start, length, fua, noHole: (flags & CommandFlag.NO_HOLE) !== 0 };
  }
}
