/**
 * REPORT SUPPORTED OPERATION CODES parameter data (SPC-4 §6.35.2-6.35.4): the list of all commands, or one
 * command with its CDB usage data (which bits of each CDB byte the device server looks at), each optionally
 * followed by a command timeouts descriptor.
 */
import { requireLength } from '../bytes.js';
import { ScsiDecodeError } from '../errors.js';

/** Command timeouts descriptor (RCTD=1). */
export interface CommandTimeouts {
  /** COMMAND SPECIFIC. */
  readonly commandSpecific: number;
  /** NOMINAL COMMAND PROCESSING TIMEOUT (seconds; 0 = not specified). */
  readonly nominal: number;
  /** RECOMMENDED COMMAND TIMEOUT (seconds; 0 = not specified). */
  readonly recommended: number;
}

/** One command descriptor of the all-commands format. */
export interface CommandDescriptor {
  /** OPERATION CODE. */
  readonly opcode: number;
  /** SERVICE ACTION (0 when the opcode has none). */
  readonly serviceAction: number;
  /** SERVACTV: the service action field is valid. */
  readonly serviceActionValid: boolean;
  /** CDB LENGTH. */
  readonly cdbLength: number;
  /** Timeouts, when asked for with RCTD. */
  readonly timeouts?: CommandTimeouts;
}

/** SUPPORT values of the one-command format (SPC-4 table 207). */
export const CommandSupport = { NotAvailable: 0, NotSupported: 1, Supported: 3, SupportedVendor: 5 } as const;

/** One-command format data. */
export interface OneCommandData {
  /** SUPPORT ({@link CommandSupport}). */
  readonly support: number;
  /** CDB USAGE DATA: byte 0 is the opcode, then a mask per CDB byte (empty when not supported). */
  readonly cdbUsage: Buffer;
  /** Timeouts, when asked for with RCTD. */
  readonly timeouts?: CommandTimeouts;
}

const TIMEOUTS_LENGTH = 12;

function encodeTimeouts(t: CommandTimeouts): Buffer {
  const buf = Buffer.alloc(TIMEOUTS_LENGTH);
  buf.writeUInt16BE(TIMEOUTS_LENGTH - 2, 0);
  buf[3] = t.commandSpecific & 0xff;
  buf.writeUInt32BE(t.nominal >>> 0, 4);
  buf.writeUInt32BE(t.recommended >>> 0, 8);
  return buf;
}

function decodeTimeouts(buf: Buffer, offset: number): CommandTimeouts {
  return {
    commandSpecific: buf.readUInt8(offset + 3),
    nominal: buf.readUInt32BE(offset + 4),
    recommended: buf.readUInt32BE(offset + 8),
  };
}

/** Encodes the all-commands format. */
export function encodeAllCommands(descriptors: readonly CommandDescriptor[]): Buffer {
  const parts = descriptors.map((d) => {
    const buf = Buffer.alloc(8);
    buf[0] = d.opcode & 0xff;
    buf.writeUInt16BE(d.serviceAction & 0xffff, 2);
    buf[5] = (d.timeouts !== undefined ? 0x02 : 0) | (d.serviceActionValid ? 0x01 : 0);
    buf.writeUInt16BE(d.cdbLength & 0xffff, 6);
    return d.timeouts === undefined ? buf : Buffer.concat([buf, encodeTimeouts(d.timeouts)]);
  });
  const header = Buffer.alloc(4);
  header.writeUInt32BE(
    parts.reduce((n, p) => n + p.length, 0),
    0,
  );
  return Buffer.concat([header, ...parts]);
}

/** Decodes the all-commands format; a descriptor cut off by the allocation length is dropped. */
export function decodeAllCommands(buf: Buffer): {
  readonly dataLength: number;
  readonly descriptors: CommandDescriptor[];
} {
  requireLength(buf, 4, 'REPORT SUPPORTED OPERATION CODES data');
  const dataLength = buf.readUInt32BE(0);
  const end = Math.min(buf.length, 4 + dataLength);
  const descriptors: CommandDescriptor[] = [];
  let offset = 4;
  while (offset + 8 <= end) {
    const ctdp = (buf.readUInt8(offset + 5) & 0x02) !== 0;
    const size = ctdp ? 8 + TIMEOUTS_LENGTH : 8;
    if (offset + size > end) break;
    if (ctdp && buf.readUInt16BE(offset + 8) !== TIMEOUTS_LENGTH - 2) {
      throw new ScsiDecodeError('ERR_SCSI_LENGTH', 'command timeouts descriptor length is not 0Ah');
    }
    descriptors.push({
      opcode: buf.readUInt8(offset),
      serviceAction: buf.readUInt16BE(offset + 2),
      serviceActionValid: (buf.readUInt8(offset + 5) & 0x01) !== 0,
      cdbLength: buf.readUInt16BE(offset + 6),
      ...(ctdp && { timeouts: decodeTimeouts(buf, offset + 8) }),
    });
    offset += size;
  }
  return { dataLength, descriptors };
}

/** Encodes the one-command format. */
export function encodeOneCommand(data: OneCommandData): Buffer {
  const header = Buffer.alloc(4);
  header[1] = (data.timeouts !== undefined ? 0x80 : 0) | (data.support & 0x07);
  header.writeUInt16BE(data.cdbUsage.length, 2);
  const parts = [header, data.cdbUsage];
  if (data.timeouts !== undefined) parts.push(encodeTimeouts(data.timeouts));
  return Buffer.concat(parts);
}

/** Decodes the one-command format. Throws only `ScsiDecodeError`. */
export function decodeOneCommand(buf: Buffer): OneCommandData {
  requireLength(buf, 4, 'REPORT SUPPORTED OPERATION CODES one-command data');
  const size = buf.readUInt16BE(2);
  requireLength(buf, 4 + size, 'CDB usage data');
  const ctdp = (buf.readUInt8(1) & 0x80) !== 0;
  if (ctdp) requireLength(buf, 4 + size + TIMEOUTS_LENGTH, 'command timeouts descriptor');
  return {
    support: buf.readUInt8(1) & 0x07,
    cdbUsage: Buffer.from(buf.subarray(4, 4 + size)),
    ...(ctdp && { timeouts: decodeTimeouts(buf, 4 + size) }),
  };
}
