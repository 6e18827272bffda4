/**
 * Mode parameter lists (SPC-4 §7.5): what MODE SENSE returns and MODE SELECT sends. A list is a header (4 bytes
 * for the 6-byte CDBs, 8 for the 10-byte ones), block descriptors, then mode pages. Pages are kept as raw bytes
 * with their position, so a device server can point at the exact byte it refuses; typed views exist for the
 * caching (08h) and control (0Ah) pages.
 */
import { requireLength } from '../bytes.js';
import { ScsiDecodeError, ScsiEncodeError } from '../errors.js';

/** Mode page codes used here. */
export const ModePageCode = {
  Caching: 0x08,
  Control: 0x0a,
  InformationalExceptions: 0x1c,
  AllPages: 0x3f,
} as const;

/** Page control values of MODE SENSE (SPC-4 table 99). */
export const PageControl = { Current: 0, Changeable: 1, Default: 2, Saved: 3 } as const;

/** A block descriptor (short form for 6-byte CDBs or LONGLBA=0, long form otherwise). */
export interface ModeBlockDescriptor {
  /** NUMBER OF LOGICAL BLOCKS (short form: 0xffffffff when the capacity does not fit). */
  readonly blocks: bigint;
  /** LOGICAL BLOCK LENGTH. */
  readonly blockLength: number;
}

/** One mode page, as bytes. */
export interface ModePage {
  /** PAGE CODE. */
  readonly pageCode: number;
  /** SUBPAGE CODE (0 for page_0 format pages). */
  readonly subpageCode: number;
  /** SPF: the page uses the sub_page format (4-byte header). */
  readonly spf: boolean;
  /** PS: the page can be saved (MODE SENSE only; reserved in MODE SELECT). */
  readonly ps: boolean;
  /** The page bytes after its header. */
  readonly data: Buffer;
}

/** A mode parameter list. */
export interface ModeParameters {
  /** MEDIUM TYPE (0 for SBC). */
  readonly mediumType: number;
  /** DEVICE-SPECIFIC PARAMETER (SBC: WP 80h, DPOFUA 10h). */
  readonly deviceSpecific: number;
  /** LONGLBA: the block descriptors use the 16-byte form (10-byte header only). */
  readonly longLba: boolean;
  /** Block descriptors. */
  readonly blockDescriptors: readonly ModeBlockDescriptor[];
  /** Mode pages, in order. */
  readonly pages: readonly ModePage[];
}

/** A decoded mode page together with where it sat in the list. */
export interface LocatedModePage extends ModePage {
  /** Byte offset of the page header within the parameter list. */
  readonly offset: number;
}

/** What {@link decodeModeParameters} returns. */
export interface DecodedModeParameters extends ModeParameters {
  /** MODE DATA LENGTH as declared (MODE SENSE), 0 in MODE SELECT lists. */
  readonly modeDataLength: number;
  /** BLOCK DESCRIPTOR LENGTH as declared. */
  readonly blockDescriptorLength: number;
  /** Byte offset where the first page starts. */
  readonly pagesOffset: number;
  /** Pages with their offsets. */
  readonly pages: readonly LocatedModePage[];
  /** True when the list ended inside a block descriptor or page (cut by an allocation length). */
  readonly truncated: boolean;
}

/** Device-specific parameter bits for direct-access devices (SBC-3 §6.4.1). */
export const DeviceSpecificParameter = { WriteProtect: 0x80, DpoFua: 0x10 } as const;

/**
 * Encodes a mode parameter list for a 6- or 10-byte CDB. With `forSelect`, MODE DATA LENGTH is written as 0
 * (it is reserved in MODE SELECT).
 */
export function encodeModeParameters(params: ModeParameters, cdbLength: 6 | 10, forSelect = false): Buffer {
  const long = params.longLba;
  if (long && cdbLength === 6) {
    throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'long LBA block descriptors need the 10-byte header');
  }
  const descriptors = params.blockDescriptors.map((d) => encodeBlockDescriptor(d, long));
  const pages = params.pages.map(encodeModePage);
  const headerLength = cdbLength === 6 ? 4 : 8;
  const descriptorLength = descriptors.reduce((n, d) => n + d.length, 0);
  const total = headerLength + descriptorLength + pages.reduce((n, p) => n + p.length, 0);
  const header = Buffer.alloc(headerLength);
  if (cdbLength === 6) {
    if (total - 1 > 0xff || descriptorLength > 0xff) {
      throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'mode parameter list too long for a 6-byte CDB');
    }
    header[0] = forSelect ? 0 : total - 1;
    header[1] = params.mediumType & 0xff;
    header[2] = params.deviceSpecific & 0xff;
    header[3] = descriptorLength;
  } else {
    if (total - 2 > 0xffff) throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'mode parameter list too long');
    header.writeUInt16BE(forSelect ? 0 : total - 2, 0);
    header[2] = params.mediumType & 0xff;
    header[3] = params.deviceSpecific & 0xff;
    header[4] = long ? 0x01 : 0;
    header.writeUInt16BE(descriptorLength, 6);
  }
  return Buffer.concat([header, ...descriptors, ...pages]);
}

function encodeBlockDescriptor(d: ModeBlockDescriptor, long: boolean): Buffer {
  if (long) {
    const buf = Buffer.alloc(16);
    buf.writeBigUInt64BE(BigInt.asUintN(64, d.blocks), 0);
    buf.writeUInt32BE(d.blockLength >>> 0, 12);
    return buf;
  }
  const buf = Buffer.alloc(8);
  buf.writeUInt32BE(d.blocks > 0xffff_ffffn ? 0xffff_ffff : Number(d.blocks), 0);
  buf.writeUIntBE(d.blockLength & 0xff_ffff, 5, 3);
  return buf;
}

/** Encodes one mode page with its header (page_0 or sub_page format per `spf`). */
export function encodeModePage(page: ModePage): Buffer {
  const first = (page.ps ? 0x80 : 0) | (page.spf ? 0x40 : 0) | (page.pageCode & 0x3f);
  if (page.spf) {
    if (page.data.length > 0xffff) throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'mode subpage too long');
    const header = Buffer.from([first, page.subpageCode & 0xff, 0, 0]);
    header.writeUInt16BE(page.data.length, 2);
    return Buffer.concat([header, page.data]);
  }
  if (page.data.length > 0xff) throw new ScsiEncodeError('ERR_SCSI_ENCODE_FIELD', 'mode page too long');
  return Buffer.concat([Buffer.from([first, page.data.length]), page.data]);
}

/**
 * Decodes a mode parameter list for a 6- or 10-byte CDB. Bytes past MODE DATA LENGTH (MODE SENSE) or past the
 * buffer are ignored; a block descriptor or page cut short sets `truncated`. Throws only `ScsiDecodeError`.
 */
export function decodeModeParameters(buf: Buffer, cdbLength: 6 | 10, forSelect = false): DecodedModeParameters {
  const headerLength = cdbLength === 6 ? 4 : 8;
  requireLength(buf, headerLength, 'mode parameter header');
  const modeDataLength = cdbLength === 6 ? buf.readUInt8(0) : buf.readUInt16BE(0);
  const end = forSelect ? buf.length : Math.min(buf.length, modeDataLength + (cdbLength === 6 ? 1 : 2));
  const mediumType = buf.readUInt8(cdbLength === 6 ? 1 : 2);
  const deviceSpecific = buf.readUInt8(cdbLength === 6 ? 2 : 3);
  const longLba = cdbLength === 10 && (buf.readUInt8(4) & 0x01) !== 0;
  const blockDescriptorLength = cdbLength === 6 ? buf.readUInt8(3) : buf.readUInt16BE(6);
  const descriptorSize = longLba ? 16 : 8;
  if (blockDescriptorLength % descriptorSize !== 0) {
    throw new ScsiDecodeError(
      'ERR_SCSI_LENGTH',
      `BLOCK DESCRIPTOR LENGTH ${blockDescriptorLength} is not a multiple of ${descriptorSize}`,
    );
  }
  let truncated = false;
  const blockDescriptors: ModeBlockDescriptor[] = [];
  const pagesOffset = headerLength + blockDescriptorLength;
  for (let offset = headerLength; offset < pagesOffset; offset += descriptorSize) {
    if (offset + descriptorSize > end) {
      truncated = true;
      break;
    }
    blockDescriptors.push(
      longLba
        ? { blocks: buf.readBigUInt64BE(offset), blockLength: buf.readUInt32BE(offset + 12) }
        : { blocks: BigInt(buf.readUInt32BE(offset)), blockLength: buf.readUIntBE(offset + 5, 3) },
    );
  }
  const pages: LocatedModePage[] = [];
  let offset = pagesOffset;
  while (offset < end) {
    const first = buf.readUInt8(offset);
    const spf = (first & 0x40) !== 0;
    const headerSize = spf ? 4 : 2;
    if (offset + headerSize > end) {
      truncated = true;
      break;
    }
    const length = spf ? buf.readUInt16BE(offset + 2) : buf.readUInt8(offset + 1);
    if (offset + headerSize + length > end) {
      truncated = true;
      break;
    }
    pages.push({
      pageCode: first & 0x3f,
      subpageCode: spf ? buf.readUInt8(offset + 1) : 0,
      spf,
      ps: (first & 0x80) !== 0,
      data: Buffer.from(buf.subarray(offset + headerSize, offset + headerSize + length)),
      offset,
    });
    offset += headerSize + length;
  }
  if (pagesOffset > end) truncated = true;
  return {
    modeDataLength: forSelect ? 0 : modeDataLength,
    mediumType,
    deviceSpecific,
    longLba,
    blockDescriptorLength,
    blockDescriptors,
    pagesOffset,
    pages,
    truncated,
  };
}

/** The fields of the Caching mode page (08h) a host acts on. */
export interface CachingPage {
  /** WCE: write cache enabled (writes may be acknowledged before they are durable). */
  readonly wce: boolean;
  /** RCD: read cache disabled. */
  readonly rcd: boolean;
}

/** Reads the Caching page's WCE and RCD bits. Throws only `ScsiDecodeError`. */
export function decodeCachingPage(page: ModePage): CachingPage {
  requireLength(page.data, 1, 'caching mode page');
  return { wce: (page.data.readUInt8(0) & 0x04) !== 0, rcd: (page.data.readUInt8(0) & 0x01) !== 0 };
}

/** The fields of the Control mode page (0Ah) a host acts on. */
export interface ControlPage {
  /** TST: task set type. */
  readonly tst: number;
  /** D_SENSE: sense data is returned in descriptor format. */
  readonly dSense: boolean;
  /** QUEUE ALGORITHM MODIFIER. */
  readonly queueAlgorithmModifier: number;
  /** QERR. */
  readonly qerr: number;
  /** SWP: software write protect. */
  readonly swp: boolean;
  /** TAS: task aborted status. */
  readonly tas: boolean;
  /** BUSY TIMEOUT PERIOD (100 ms units; 0xffff unlimited). */
  readonly busyTimeoutPeriod: number;
}

/** Reads the Control page's main fields. Throws only `ScsiDecodeError`. */
export function decodeControlPage(page: ModePage): ControlPage {
  requireLength(page.data, 8, 'control mode page');
  const d = page.data;
  return {
    tst: d.readUInt8(0) >> 5,
    dSense: (d.readUInt8(0) & 0x04) !== 0,
    queueAlgorithmModifier: d.readUInt8(1) >> 4,
    qerr: (d.readUInt8(1) >> 1) & 0x03,
    swp: (d.readUInt8(2) & 0x08) !== 0,
    tas: (d.readUInt8(3) & 0x40) !== 0,
    busyTimeoutPeriod: d.readUInt16BE(6),
  };
}
