/**
 * The server's side of the fixed-newstyle handshake as pure functions: given one option from the client and what
 * the server offers, the bytes to answer with and where the connection goes next. No sockets here; see
 * `connection.ts` for the wiring.
 */
import { ClientFlag, HandshakeFlag, Info, Option, Reply } from './constants.js';
import { NbdDecodeError, NbdServerError } from './errors.js';
import { deviceSize, type NbdExport, transmissionFlags } from './export.js';
import type { ExportView } from './requests.js';
import { decodeNbdString, truncateUtf8 } from './strings.js';
import {
  decodeInfoRequest,
  encodeExportNameReply,
  encodeInfo,
  encodeOptionReply,
  encodeServerEntry,
  type NbdInfo,
} from './wire.js';

/** The handshake flags this server sends: fixed newstyle, and the zeroes after EXPORT_NAME may be left out. */
export const SERVER_HANDSHAKE_FLAGS = HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES;

/** What the server offers to the handshake. */
export interface HandshakeContext {
  /** The export a name selects ("" may select a default), or undefined. */
  readonly lookup: (name: string) => NbdExport | undefined;
  /** Every export, for NBD_OPT_LIST. */
  readonly list: () => readonly NbdExport[];
  /** True while the server shuts down: options are answered NBD_REP_ERR_SHUTDOWN. */
  readonly shuttingDown: boolean;
  /** The client set NBD_FLAG_C_NO_ZEROES. */
  readonly noZeroes: boolean;
}

/** An export chosen by NBD_OPT_GO or NBD_OPT_EXPORT_NAME, as the connection will serve it. */
export interface SelectedExport {
  /** The export. */
  readonly export: NbdExport;
  /** Size, constraints and read-only flag fixed for this connection. */
  readonly view: ExportView;
  /** Whether the client asked for NBD_INFO_BLOCK_SIZE (and so promised to honour the constraints). */
  readonly blockSizesAcknowledged: boolean;
}

/** Where the connection goes after an option. */
export type HandshakeNext =
  | { readonly kind: 'continue' }
  | { readonly kind: 'transmission'; readonly selected: SelectedExport }
  | {
      readonly kind: 'close';
      /** Why, for logs. */
      readonly reason: string;
    };

/** The answer to one option. */
export interface HandshakeStep {
  /** Bytes to send, in order. */
  readonly send: readonly Buffer[];
  /** What happens after they are sent. */
  readonly next: HandshakeNext;
}

/** Checks the client's flags; returns whether it asked for NO_ZEROES, or a reason to close. */
export function checkClientFlags(flags: number): { readonly noZeroes: boolean } | { readonly close: string } {
  const known = ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES;
  // The spec says the server MUST drop the connection on a flag it does not know.
  if ((flags & ~known) >>> 0 !== 0) return { close: `unknown client flags 0x${flags.toString(16)}` };
  return { noZeroes: (flags & ClientFlag.NO_ZEROES) !== 0 };
}

/** Longest message quoted back to the client in an error reply. */
const MAX_MESSAGE = 512;

function errorReply(option: number, type: number, message: string): Buffer {
  return encodeOptionReply(option, type, Buffer.from(truncateUtf8(message, MAX_MESSAGE), 'utf8'));
}

function cont(...send: Buffer[]): HandshakeStep {
  return { send, next: { kind: 'continue' } };
}

function select(exp: NbdExport, blockSizesAcknowledged: boolean): SelectedExport {
  return {
    export: exp,
    view: { size: deviceSize(exp), blockSizes: exp.blockSizes, readOnly: exp.device.readOnly },
    blockSizesAcknowledged,
  };
}

/** Answers an option whose data was too long to hold. */
export function answerOversizedOption(option: number, length: number): HandshakeStep {
  if (option === Option.EXPORT_NAME) {
    // EXPORT_NAME cannot be answered with an error: the spec's only way out is to close.
    return { send: [], next: { kind: 'close', reason: `NBD_OPT_EXPORT_NAME with ${length} bytes of name` } };
  }
  return cont(errorReply(option, Reply.ERR_TOO_BIG, `option data of ${length} bytes is too long`));
}

/** Answers one option. */
export function answerOption(option: number, data: Buffer, context: HandshakeContext): HandshakeStep {
  if (option === Option.ABORT) {
    return {
      send: [encodeOptionReply(option, Reply.ACK)],
      next: { kind: 'close', reason: 'client sent NBD_OPT_ABORT' },
    };
  }
  if (option === Option.EXPORT_NAME) return answerExportName(data, context);
  if (context.shuttingDown) return cont(errorReply(option, Reply.ERR_SHUTDOWN, 'the server is shutting down'));
  switch (option) {
    case Option.LIST:
      if (data.length !== 0) return cont(errorReply(option, Reply.ERR_INVALID, 'NBD_OPT_LIST takes no data'));
      return cont(
        ...context
          .list()
          .map((exp) =>
            encodeOptionReply(
              option,
              Reply.SERVER,
              encodeServerEntry({ name: exp.name, description: exp.description }),
            ),
          ),
        encodeOptionReply(option, Reply.ACK),
      );
    case Option.INFO:
    case Option.GO:
      return answerInfo(option, data, context);
    case Option.STARTTLS:
      return cont(errorReply(option, Reply.ERR_UNSUP, 'TLS is not supported'));
    case Option.STRUCTURED_REPLY:
      return cont(errorReply(option, Reply.ERR_UNSUP, 'structured replies are not supported; simple replies only'));
    default:
      return cont(errorReply(option, Reply.ERR_UNSUP, `option ${option} is not supported`));
  }
}

function answerExportName(data: Buffer, context: HandshakeContext): HandshakeStep {
  let name: string;
  try {
    name = decodeNbdString(data, 'export name');
  } catch (err) {
    if (err instanceof NbdDecodeError) return { send: [], next: { kind: 'close', reason: err.message } };
    throw err;
  }
  const exp = context.shuttingDown ? undefined : context.lookup(name);
  if (exp === undefined) {
    return {
      send: [],
      next: { kind: 'close', reason: `NBD_OPT_EXPORT_NAME for unknown export "${truncateUtf8(name, 64)}"` },
    };
  }
  let selected: SelectedExport;
  try {
    selected = select(exp, false);
  } catch (err) {
    if (err instanceof NbdServerError) return { send: [], next: { kind: 'close', reason: err.message } };
    throw err;
  }
  const reply = encodeExportNameReply({ size: selected.view.size, flags: transmissionFlags(exp) }, context.noZeroes);
  return { send: [reply], next: { kind: 'transmission', selected } };
}

function answerInfo(option: number, data: Buffer, context: HandshakeContext): HandshakeStep {
  let request;
  try {
    request = decodeInfoRequest(data);
  } catch (err) {
    if (err instanceof NbdDecodeError) return cont(errorReply(option, Reply.ERR_INVALID, err.message));
    throw err;
  }
  const exp = context.lookup(request.name);
  if (exp === undefined) {
    return cont(errorReply(option, Reply.ERR_UNKNOWN, `no export named "${request.name}"`));
  }
  let selected: SelectedExport;
  try {
    selected = select(exp, request.requests.includes(Info.BLOCK_SIZE));
  } catch (err) {
    // The device changed under the export (e.g. a LUN shrank to an odd size): not servable right now.
    if (err instanceof NbdServerError) return cont(errorReply(option, Reply.ERR_UNKNOWN, err.message));
    throw err;
  }
  const infos: NbdInfo[] = [{ type: 'export', size: selected.view.size, flags: transmissionFlags(exp) }];
  if (request.requests.includes(Info.NAME)) infos.push({ type: 'name', name: exp.name });
  if (request.requests.includes(Info.DESCRIPTION) && exp.description !== '') {
    infos.push({ type: 'description', description: exp.description });
  }
  // Sent even when not asked for (the spec allows it): a client that cannot honour it still learns our limits,
  // and requests outside them are answered EINVAL rather than corrupting anything.
  infos.push({ type: 'block-size', ...exp.blockSizes });
  const send = [
    ...infos.map((info) => encodeOptionReply(option, Reply.INFO, encodeInfo(info))),
    encodeOptionReply(option, Reply.ACK),
  ];
  return option === Option.GO ? { send, next: { kind: 'transmission', selected } } : cont(...send);
}
