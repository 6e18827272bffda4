/**
 * Checking what arrives in a receive buffer: one iSER Send = iSER header + BHS + AHS + data, exactly (no padding,
 * no digest). Everything here is a pure function of the bytes and the role, so hostile input is easy to test: it may
 * only throw an {@link IserTransportError} with code ERR_ISER_PROTOCOL.
 *
 * Flags (RFC 7145 §9.2): the high nibble must be 0x1 (a control-type PDU; we never negotiate iSERHelloRequired, so
 * Hello/HelloReply are errors); bits 0-1 are reserved; WSV/RSV may only be set by an initiator, on a SCSI Command.
 */
import {
  decodeIserMessage,
  IserOpcode,
  PduDecodeError,
  peekBhs,
  splitIserControlPdu,
  type IserControlHeader,
} from '../../protocol/pdu/index.js';
import type { ConnectionRole } from '../common/pdu-kinds.js';
import { iserError } from './errors.js';

/** The SCSI Command opcode (the only PDU whose iSER header may carry STags). */
const SCSI_COMMAND_OPCODE = 0x01;

/** Bits of the flags byte besides the opcode, WSV (0x08) and RSV (0x04). */
const RESERVED_FLAG_BITS = 0x03;

/** A checked Send, as views of the receive buffer. */
export interface InboundSend {
  readonly iser: IserControlHeader;
  /** BHS + AHS. */
  readonly header: Buffer;
  /** The data segment, if any. */
  readonly data: Buffer | undefined;
}

/**
 * Splits and checks one received Send. `receiver` is our role; `maxDataSegmentLength` the largest data segment we
 * declared we receive (the peer must respect it even when our buffer has room to spare).
 */
export function parseInboundSend(bytes: Buffer, receiver: ConnectionRole, maxDataSegmentLength: number): InboundSend {
  if (bytes.length === 0) throw protocolError('an empty Send (no iSER header)');
  const flags = bytes[0] ?? 0;
  const opcode = flags >>> 4;
  if (opcode === IserOpcode.Hello || opcode === IserOpcode.HelloReply) {
    throw protocolError(
      `an iSER ${opcode === IserOpcode.Hello ? 'Hello' : 'HelloReply'} message: this connection does not use the Hello exchange (iSERHelloRequired=No)`,
    );
  }
  if (opcode !== IserOpcode.Control) {
    throw protocolError(`an iSER header with unknown opcode 0x${opcode.toString(16)} (flags 0x${hex2(flags)})`);
  }
  if ((flags & RESERVED_FLAG_BITS) !== 0) {
    throw protocolError(`an iSER header with reserved flag bits set (flags 0x${hex2(flags)})`);
  }
  let split;
  try {
    split = splitIserControlPdu(bytes);
  } catch (err) {
    if (err instanceof PduDecodeError) throw protocolError(`a malformed iSER Send: ${err.message}`, err);
    throw err;
  }
  const tagged = split.iser.read !== undefined || split.iser.write !== undefined;
  if (tagged) {
    if (receiver === 'initiator') {
      throw protocolError(
        `the target set WSV/RSV in an iSER header (flags 0x${hex2(flags)}): only initiators advertise STags`,
      );
    }
    const bhsOpcode = peekBhs(split.header).opcode;
    if (bhsOpcode !== SCSI_COMMAND_OPCODE) {
      throw protocolError(
        `WSV/RSV set on a PDU with opcode 0x${hex2(bhsOpcode)}: STags belong only in a SCSI Command's iSER header`,
      );
    }
  }
  const data = split.data[0];
  const dataLength = data?.length ?? 0;
  if (dataLength > maxDataSegmentLength) {
    throw protocolError(
      `a data segment of ${dataLength} bytes, more than the ${maxDataSegmentLength} this side declared it receives`,
    );
  }
  return { iser: split.iser, header: split.header, data };
}

/** The iSER header of a Send we built (for tests and traces). */
export function iserHeaderOf(bytes: Buffer): IserControlHeader {
  const message = decodeIserMessage(bytes);
  if (message.kind !== 'control') throw protocolError(`expected a control-type iSER header, got ${message.kind}`);
  return message;
}

function protocolError(what: string, cause?: unknown): Error {
  return iserError('ERR_ISER_PROTOCOL', `the peer sent ${what}`, cause === undefined ? undefined : { cause });
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
