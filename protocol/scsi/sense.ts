/**
 * Sense data (SPC-4 §4.5): the structure a device server returns with CHECK CONDITION, in both formats —
 * fixed (response codes 70h/71h, 18 bytes) and descriptor (72h/73h, a header and typed descriptors).
 *
 * {@link encodeSense} and {@link decodeSense} are inverse: `decodeSense(encodeSense(s))` gives `s` back for every
 * `s` the chosen format can hold. In fixed format an absent COMMAND-SPECIFIC INFORMATION or FRU field is written
 * as zero, so zero decodes as absent.
 */
import { checkUint, checkUint64, requireLength } from './bytes.js';
import { ScsiDecodeError, ScsiEncodeError } from './errors.js';
import { additionalSenseName, SenseKey, senseKeyName } from './sense-codes.js';

/** Fixed (70h/71h) or descriptor (72h/73h) sense data. */
export type SenseFormat = 'fixed' | 'descriptor';

/**
 * The SENSE KEY SPECIFIC field (SPC-4 §4.5.2.4), whose meaning depends on the sense key: a field pointer for
 * ILLEGAL REQUEST, progress for NOT READY and NO SENSE, a retry count for RECOVERED/MEDIUM/HARDWARE ERROR, and
 * the raw 23 bits otherwise.
 */
export type SenseKeySpecific =
  | {
      readonly kind: 'field-pointer';
      /** True when the pointer indexes the CDB (C/D = 1), false for the parameter data. */
      readonly inCdb: boolean;
      /** The bit (0-7) within the byte, when the pointer names a bit (BPV = 1). */
      readonly bitPointer?: number;
      /** The byte offset within the CDB or parameter data. */
      readonly fieldPointer: number;
    }
  | {
      readonly kind: 'progress';
      /** Fraction of the operation done, in units of 1/65536. */
      readonly progress: number;
    }
  | {
      readonly kind: 'retry-count';
      /** Retries the device server made. */
      readonly count: number;
    }
  | {
      readonly kind: 'raw';
      /** The 23 bits after SKSV. */
      readonly value: number;
    };

/** A sense data descriptor this codec does not interpret, kept as bytes. */
export interface SenseDescriptor {
  /** DESCRIPTOR TYPE (SPC-4 table 52). */
  readonly type: number;
  /** The descriptor's bytes after its two-byte header. */
  readonly data: Buffer;
}

/** Decoded sense data, independent of the format it came in. */
export interface SenseData {
  /** The wire format. */
  readonly format: SenseFormat;
  /** True for deferred errors (71h/73h), false for current errors (70h/72h). */
  readonly deferred: boolean;
  /** SENSE KEY ({@link SenseKey}). */
  readonly key: number;
  /** ADDITIONAL SENSE CODE. */
  readonly asc: number;
  /** ADDITIONAL SENSE CODE QUALIFIER. */
  readonly ascq: number;
  /** The INFORMATION field when valid (e.g. the offset of a miscompare). */
  readonly information?: bigint;
  /** COMMAND-SPECIFIC INFORMATION, when present. */
  readonly commandSpecific?: bigint;
  /** SENSE KEY SPECIFIC, when SKSV is set. */
  readonly senseKeySpecific?: SenseKeySpecific;
  /** FIELD REPLACEABLE UNIT CODE, when non-zero. */
  readonly fru?: number;
  /** FILEMARK (stream devices). */
  readonly filemark: boolean;
  /** EOM (stream devices). */
  readonly eom: boolean;
  /** ILI: incorrect length indicator. */
  readonly ili: boolean;
  /** Descriptors of other types (descriptor format only), in wire order. */
  readonly otherDescriptors?: readonly SenseDescriptor[];
}

/** What a device server needs to say to build sense data; everything but the key and code is optional. */
export interface SenseInit {
  /** SENSE KEY. */
  readonly key: number;
  /** ADDITIONAL SENSE CODE. */
  readonly asc: number;
  /** ADDITIONAL SENSE CODE QUALIFIER. */
  readonly ascq: number;
  /** INFORMATION field. */
  readonly information?: bigint;
  /** SENSE KEY SPECIFIC field. */
  readonly senseKeySpecific?: SenseKeySpecific;
}

/** Builds {@link SenseData} for a current error from the fields a device server cares about. */
export function senseData(init: SenseInit, format: SenseFormat = 'fixed'): SenseData {
  return {
    format,
    deferred: false,
    key: init.key,
    asc: init.asc,
    ascq: init.ascq,
    ...(init.information !== undefined && { information: init.information }),
    ...(init.senseKeySpecific !== undefined && { senseKeySpecific: init.senseKeySpecific }),
    filemark: false,
    eom: false,
    ili: false,
  };
}

const FIXED_LENGTH = 18;
const MAX_UINT32 = 0xffff_ffffn;
const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;

/** Descriptor types this codec interprets (SPC-4 table 52). */
const DescriptorType = {
  Information: 0x00,
  CommandSpecific: 0x01,
  SenseKeySpecific: 0x02,
  FieldReplaceableUnit: 0x03,
  StreamCommands: 0x04,
  BlockCommands: 0x05,
} as const;

/** Encodes sense data in the format it names. Throws {@link ScsiEncodeError} when a field does not fit. */
export function encodeSense(sense: SenseData): Buffer {
  checkUint(sense.key, 0x0f, 'sense key');
  checkUint(sense.asc, 0xff, 'ASC');
  checkUint(sense.ascq, 0xff, 'ASCQ');
  if (sense.fru !== undefined) checkUint(sense.fru, 0xff, 'FRU code');
  return sense.format === 'fixed' ? encodeFixed(sense) : encodeDescriptor(sense);
}

function encodeFixed(sense: SenseData): Buffer {
  if (sense.otherDescriptors !== undefined && sense.otherDescriptors.length > 0) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'fixed-format sense data cannot carry descriptors');
  }
  const buf = Buffer.alloc(FIXED_LENGTH);
  buf[0] = sense.deferred ? 0x71 : 0x70;
  if (sense.information !== undefined) {
    buf[0] |= 0x80; // VALID
    buf.writeUInt32BE(Number(checkUint64(sense.information, MAX_UINT32, 'information (fixed format)')), 3);
  }
  buf[2] = (sense.filemark ? 0x80 : 0) | (sense.eom ? 0x40 : 0) | (sense.ili ? 0x20 : 0) | sense.key;
  buf[7] = FIXED_LENGTH - 8;
  if (sense.commandSpecific !== undefined) {
    buf.writeUInt32BE(Number(checkUint64(sense.commandSpecific, MAX_UINT32, 'command-specific information')), 8);
  }
  buf[12] = sense.asc;
  buf[13] = sense.ascq;
  buf[14] = sense.fru ?? 0;
  if (sense.senseKeySpecific !== undefined) encodeSenseKeySpecific(sense.senseKeySpecific, buf, 15);
  return buf;
}

function encodeDescriptor(sense: SenseData): Buffer {
  const parts: Buffer[] = [];
  if (sense.information !== undefined) {
    const d = Buffer.alloc(12);
    d[0] = DescriptorType.Information;
    d[1] = 0x0a;
    d[2] = 0x80; // VALID
    d.writeBigUInt64BE(checkUint64(sense.information, MAX_UINT64, 'information'), 4);
    parts.push(d);
  }
  if (sense.commandSpecific !== undefined) {
    const d = Buffer.alloc(12);
    d[0] = DescriptorType.CommandSpecific;
    d[1] = 0x0a;
    d.writeBigUInt64BE(checkUint64(sense.commandSpecific, MAX_UINT64, 'command-specific information'), 4);
    parts.push(d);
  }
  if (sense.senseKeySpecific !== undefined) {
    const d = Buffer.alloc(8);
    d[0] = DescriptorType.SenseKeySpecific;
    d[1] = 0x06;
    encodeSenseKeySpecific(sense.senseKeySpecific, d, 4);
    parts.push(d);
  }
  if (sense.fru !== undefined && sense.fru !== 0) {
    parts.push(Buffer.from([DescriptorType.FieldReplaceableUnit, 0x02, 0x00, sense.fru]));
  }
  if (sense.filemark || sense.eom) {
    const flags = (sense.filemark ? 0x80 : 0) | (sense.eom ? 0x40 : 0) | (sense.ili ? 0x20 : 0);
    parts.push(Buffer.from([DescriptorType.StreamCommands, 0x02, 0x00, flags]));
  } else if (sense.ili) {
    parts.push(Buffer.from([DescriptorType.BlockCommands, 0x02, 0x00, 0x20]));
  }
  for (const other of sense.otherDescriptors ?? []) {
    checkUint(other.type, 0xff, 'descriptor type');
    checkUint(other.data.length, 0xff, 'descriptor length');
    parts.push(Buffer.from([other.type, other.data.length]), other.data);
  }
  const header = Buffer.alloc(8);
  header[0] = sense.deferred ? 0x73 : 0x72;
  header[1] = sense.key;
  header[2] = sense.asc;
  header[3] = sense.ascq;
  const additional = parts.reduce((n, p) => n + p.length, 0);
  if (additional > 0xff - 7) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', `sense descriptors too long (${additional} bytes)`);
  }
  header[7] = additional;
  return Buffer.concat([header, ...parts]);
}

function encodeSenseKeySpecific(sks: SenseKeySpecific, buf: Buffer, offset: number): void {
  let first = 0x80; // SKSV
  let rest: number;
  switch (sks.kind) {
    case 'field-pointer':
      if (sks.inCdb) first |= 0x40;
      if (sks.bitPointer !== undefined) first |= 0x08 | checkUint(sks.bitPointer, 7, 'bit pointer');
      rest = checkUint(sks.fieldPointer, 0xffff, 'field pointer');
      break;
    case 'progress':
      rest = checkUint(sks.progress, 0xffff, 'progress indication');
      break;
    case 'retry-count':
      rest = checkUint(sks.count, 0xffff, 'actual retry count');
      break;
    case 'raw':
      checkUint(sks.value, 0x7f_ffff, 'sense key specific value');
      first |= sks.value >> 16;
      rest = sks.value & 0xffff;
      break;
  }
  buf[offset] = first;
  buf.writeUInt16BE(rest, offset + 1);
}

/** Decodes fixed or descriptor sense data. Throws only {@link ScsiDecodeError}. */
export function decodeSense(buf: Buffer): SenseData {
  requireLength(buf, 1, 'sense data');
  const responseCode = buf.readUInt8(0) & 0x7f;
  switch (responseCode) {
    case 0x70:
    case 0x71:
      return decodeFixed(buf, responseCode === 0x71);
    case 0x72:
    case 0x73:
      return decodeDescriptor(buf, responseCode === 0x73);
    default:
      throw new ScsiDecodeError(
        'ERR_SCSI_FIELD',
        `sense data response code 0x${responseCode.toString(16)} is neither fixed (70h/71h) nor descriptor (72h/73h)`,
      );
  }
}

function decodeFixed(buf: Buffer, deferred: boolean): SenseData {
  requireLength(buf, 8, 'fixed-format sense data');
  // Fields past ADDITIONAL SENSE LENGTH (or past the bytes we were given) are absent, not garbage.
  const end = Math.min(buf.length, 8 + buf.readUInt8(7));
  const has = (offset: number, width: number): boolean => offset + width <= end;
  const flags = buf.readUInt8(2);
  const commandSpecific = has(8, 4) ? buf.readUInt32BE(8) : 0;
  const fru = has(14, 1) ? buf.readUInt8(14) : 0;
  const key = flags & 0x0f;
  const sks = has(15, 3) && (buf.readUInt8(15) & 0x80) !== 0 ? decodeSenseKeySpecific(key, buf, 15) : undefined;
  return {
    format: 'fixed',
    deferred,
    key,
    asc: has(12, 1) ? buf.readUInt8(12) : 0,
    ascq: has(13, 1) ? buf.readUInt8(13) : 0,
    ...((buf.readUInt8(0) & 0x80) !== 0 && { information: BigInt(buf.readUInt32BE(3)) }),
    ...(commandSpecific !== 0 && { commandSpecific: BigInt(commandSpecific) }),
    ...(sks !== undefined && { senseKeySpecific: sks }),
    ...(fru !== 0 && { fru }),
    filemark: (flags & 0x80) !== 0,
    eom: (flags & 0x40) !== 0,
    ili: (flags & 0x20) !== 0,
  };
}

function decodeDescriptor(buf: Buffer, deferred: boolean): SenseData {
  requireLength(buf, 8, 'descriptor-format sense data');
  const end = Math.min(buf.length, 8 + buf.readUInt8(7));
  const key = buf.readUInt8(1) & 0x0f;
  let information: bigint | undefined;
  let commandSpecific: bigint | undefined;
  let sks: SenseKeySpecific | undefined;
  let fru: number | undefined;
  let filemark = false;
  let eom = false;
  let ili = false;
  const others: SenseDescriptor[] = [];
  let offset = 8;
  while (offset < end) {
    if (offset + 2 > end) {
      throw new ScsiDecodeError('ERR_SCSI_LENGTH', `sense descriptor header at byte ${offset} is cut off`);
    }
    const type = buf.readUInt8(offset);
    const length = buf.readUInt8(offset + 1);
    const next = offset + 2 + length;
    if (next > end) {
      throw new ScsiDecodeError('ERR_SCSI_LENGTH', `sense descriptor at byte ${offset} runs past the sense data`);
    }
    const body = buf.subarray(offset + 2, next);
    const need = (n: number): void => {
      if (length < n) {
        throw new ScsiDecodeError('ERR_SCSI_LENGTH', `sense descriptor type ${type} is ${length} bytes, needs ${n}`);
      }
    };
    switch (type) {
      case DescriptorType.Information:
        need(10);
        if ((body.readUInt8(0) & 0x80) !== 0) information = body.readBigUInt64BE(2);
        break;
      case DescriptorType.CommandSpecific:
        need(10);
        commandSpecific = body.readBigUInt64BE(2);
        break;
      case DescriptorType.SenseKeySpecific:
        need(6);
        if ((body.readUInt8(2) & 0x80) !== 0) sks = decodeSenseKeySpecific(key, body, 2);
        break;
      case DescriptorType.FieldReplaceableUnit:
        need(2);
        fru = body.readUInt8(1);
        break;
      case DescriptorType.StreamCommands:
        need(2);
        filemark = (body.readUInt8(1) & 0x80) !== 0;
        eom = (body.readUInt8(1) & 0x40) !== 0;
        ili = (body.readUInt8(1) & 0x20) !== 0;
        break;
      case DescriptorType.BlockCommands:
        need(2);
        ili = (body.readUInt8(1) & 0x20) !== 0;
        break;
      default:
        others.push({ type, data: Buffer.from(body) });
    }
    offset = next;
  }
  return {
    format: 'descriptor',
    deferred,
    key,
    asc: buf.readUInt8(2),
    ascq: buf.readUInt8(3),
    ...(information !== undefined && { information }),
    ...(commandSpecific !== undefined && { commandSpecific }),
    ...(sks !== undefined && { senseKeySpecific: sks }),
    ...(fru !== undefined && fru !== 0 && { fru }),
    filemark,
    eom,
    ili,
    ...(others.length > 0 && { otherDescriptors: others }),
  };
}

function decodeSenseKeySpecific(key: number, buf: Buffer, offset: number): SenseKeySpecific {
  const first = buf.readUInt8(offset);
  const rest = buf.readUInt16BE(offset + 1);
  switch (key) {
    case SenseKey.IllegalRequest:
      return {
        kind: 'field-pointer',
        inCdb: (first & 0x40) !== 0,
        ...((first & 0x08) !== 0 && { bitPointer: first & 0x07 }),
        fieldPointer: rest,
      };
    case SenseKey.NotReady:
    case SenseKey.NoSense:
      return { kind: 'progress', progress: rest };
    case SenseKey.RecoveredError:
    case SenseKey.MediumError:
    case SenseKey.HardwareError:
      return { kind: 'retry-count', count: rest };
    default:
      return { kind: 'raw', value: ((first & 0x7f) << 16) | rest };
  }
}

/** A one-line description, e.g. `IllegalRequest InvalidFieldInCdb (CDB byte 2)`. */
export function describeSense(sense: SenseData): string {
  let text = `${senseKeyName(sense.key)} ${additionalSenseName(sense.asc, sense.ascq)}`;
  const sks = sense.senseKeySpecific;
  if (sks?.kind === 'field-pointer') {
    const bit = sks.bitPointer === undefined ? '' : ` bit ${sks.bitPointer}`;
    text += ` (${sks.inCdb ? 'CDB' : 'parameter data'} byte ${sks.fieldPointer}${bit})`;
  }
  if (sense.information !== undefined) text += ` information=${sense.information}`;
  return text;
}
