/**
 * Pure codecs for every NBD message the fixed-newstyle handshake and the transmission phase use with simple
 * replies: both directions, so the server and the tests' scripted client share them. Decoders bound every length
 * and throw only {@link NbdDecodeError}; encoders throw {@link NbdEncodeError} for values that do not fit.
 */
import {
  EXPORT_NAME_ZEROES,
  GREETING_LENGTH,
  Info,
  NBD_MAGIC,
  NBD_OPTS_MAGIC,
  NBD_REP_MAGIC,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  OPTION_HEADER_LENGTH,
  OPTION_REPLY_HEADER_LENGTH,
  REQUEST_HEADER_LENGTH,
  SIMPLE_REPLY_HEADER_LENGTH,
} from './constants.js';
import { NbdDecodeError, NbdEncodeError } from './errors.js';
import { decodeNbdString, encodeNbdString } from './strings.js';

const U64_MAX = (1n << 64n) - 1n;

function need(bytes: Buffer, length: number, what: string): void {
  if (bytes.length < length) {
    throw new NbdDecodeError('ERR_NBD_TRUNCATED', `${what} needs ${length} bytes, got ${bytes.length}`);
  }
}

function exactly(bytes: Buffer, length: number, what: string): void {
  if (bytes.length !== length) {
    throw new NbdDecodeError('ERR_NBD_LENGTH', `${what} must be ${length} bytes, got ${bytes.length}`);
  }
}

function checkUint(value: number, bits: 16 | 32, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 2 ** bits - 1) {
    throw new NbdEncodeError('ERR_NBD_ENCODE', `${what} ${value} does not fit in ${bits} bits`);
  }
}

function checkU64(value: bigint, what: string): void {
  if (value < 0n || value > U64_MAX) throw new NbdEncodeError('ERR_NBD_ENCODE', `${what} does not fit in 64 bits`);
}

// ---------------------------------------------------------------------------------------------------------------
// Handshake

/** Encodes the server's newstyle greeting: NBDMAGIC, IHAVEOPT, 16 bits of handshake flags. */
export function encodeGreeting(handshakeFlags: number): Buffer {
  checkUint(handshakeFlags, 16, 'handshake flags');
  const out = Buffer.alloc(GREETING_LENGTH);
  out.writeBigUInt64BE(NBD_MAGIC, 0);
  out.writeBigUInt64BE(NBD_OPTS_MAGIC, 8);
  out.writeUInt16BE(handshakeFlags, 16);
  return out;
}

/** Decodes the server's greeting (client side), returning its handshake flags. */
export function decodeGreeting(bytes: Buffer): number {
  exactly(bytes, GREETING_LENGTH, 'greeting');
  if (bytes.readBigUInt64BE(0) !== NBD_MAGIC) throw new NbdDecodeError('ERR_NBD_MAGIC', 'greeting lacks NBDMAGIC');
  if (bytes.readBigUInt64BE(8) !== NBD_OPTS_MAGIC) {
    throw new NbdDecodeError('ERR_NBD_MAGIC', 'greeting lacks IHAVEOPT (oldstyle servers are not supported)');
  }
  return bytes.readUInt16BE(16);
}

/** Encodes the client's 32 bits of flags. */
export function encodeClientFlags(flags: number): Buffer {
  checkUint(flags, 32, 'client flags');
  const out = Buffer.alloc(4);
  out.writeUInt32BE(flags, 0);
  return out;
}

/** Decodes the client's 32 bits of flags. */
export function decodeClientFlags(bytes: Buffer): number {
  exactly(bytes, 4, 'client flags');
  return bytes.readUInt32BE(0);
}

/** The fixed part of an option the client sends. */
export interface OptionHeader {
  /** Option code (see `Option`). */
  readonly option: number;
  /** Bytes of option data that follow. */
  readonly length: number;
}

/** Encodes an option: header and data. */
export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  checkUint(option, 32, 'option');
  const out = Buffer.alloc(OPTION_HEADER_LENGTH + data.length);
  out.writeBigUInt64BE(NBD_OPTS_MAGIC, 0);
  out.writeUInt32BE(option, 8);
  out.writeUInt32BE(data.length, 12);
  data.copy(out, OPTION_HEADER_LENGTH);
  return out;
}

/** Decodes the 16-byte header of an option; the caller bounds `length` before reading that much. */
export function decodeOptionHeader(bytes: Buffer): OptionHeader {
  exactly(bytes, OPTION_HEADER_LENGTH, 'option header');
  if (bytes.readBigUInt64BE(0) !== NBD_OPTS_MAGIC) throw new NbdDecodeError('ERR_NBD_MAGIC', 'option lacks IHAVEOPT');
  return { option: bytes.readUInt32BE(8), length: bytes.readUInt32BE(12) };
}

/** The data of NBD_OPT_INFO and NBD_OPT_GO: an export name and the information the client asks for. */
export interface InfoRequest {
  /** Export name ("" asks for the default export). */
  readonly name: string;
  /** Information types asked for (see `Info`). */
  readonly requests: readonly number[];
}

/** Encodes the data of NBD_OPT_INFO / NBD_OPT_GO. */
export function encodeInfoRequest(request: InfoRequest): Buffer {
  const name = encodeNbdString(request.name, 'export name');
  checkUint(request.requests.length, 16, 'information request count');
  const out = Buffer.alloc(4 + name.length + 2 + 2 * request.requests.length);
  out.writeUInt32BE(name.length, 0);
  name.copy(out, 4);
  let at = 4 + name.length;
  out.writeUInt16BE(request.requests.length, at);
  at += 2;
  for (const info of request.requests) {
    checkUint(info, 16, 'information type');
    out.writeUInt16BE(info, at);
    at += 2;
  }
  return out;
}

/** Decodes the data of NBD_OPT_INFO / NBD_OPT_GO; every length must add up exactly. */
export function decodeInfoRequest(data: Buffer): InfoRequest {
  need(data, 6, 'NBD_OPT_INFO/GO data');
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 6) {
    throw new NbdDecodeError('ERR_NBD_LENGTH', `export name length ${nameLength} overruns the option data`);
  }
  const name = decodeNbdString(data.subarray(4, 4 + nameLength), 'export name');
  const count = data.readUInt16BE(4 + nameLength);
  const expected = 4 + nameLength + 2 + 2 * count;
  if (data.length !== expected) {
    throw new NbdDecodeError(
      'ERR_NBD_LENGTH',
      `NBD_OPT_INFO/GO data is ${data.length} bytes but its lengths add up to ${expected}`,
    );
  }
  const requests: number[] = [];
  for (let i = 0; i < count; i++) requests.push(data.readUInt16BE(4 + nameLength + 2 + 2 * i));
  return { name, requests };
}

/** The fixed part of a reply to an option. */
export interface OptionReplyHeader {
  /** The option being answered. */
  readonly option: number;
  /** Reply type (see `Reply`); bit 31 marks an error. */
  readonly type: number;
  /** Bytes of reply data that follow. */
  readonly length: number;
}

/** Encodes a reply to an option: header and data. */
export function encodeOptionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  checkUint(option, 32, 'option');
  checkUint(type, 32, 'reply type');
  const out = Buffer.alloc(OPTION_REPLY_HEADER_LENGTH + data.length);
  out.writeBigUInt64BE(NBD_REP_MAGIC, 0);
  out.writeUInt32BE(option, 8);
  out.writeUInt32BE(type, 12);
  out.writeUInt32BE(data.length, 16);
  data.copy(out, OPTION_REPLY_HEADER_LENGTH);
  return out;
}

/** Decodes the 20-byte header of an option reply (client side). */
export function decodeOptionReplyHeader(bytes: Buffer): OptionReplyHeader {
  exactly(bytes, OPTION_REPLY_HEADER_LENGTH, 'option reply header');
  if (bytes.readBigUInt64BE(0) !== NBD_REP_MAGIC) {
    throw new NbdDecodeError('ERR_NBD_MAGIC', 'option reply has the wrong magic');
  }
  return { option: bytes.readUInt32BE(8), type: bytes.readUInt32BE(12), length: bytes.readUInt32BE(16) };
}

/** One export as NBD_REP_SERVER describes it. */
export interface ServerEntry {
  /** Export name. */
  readonly name: string;
  /** Human-readable details ("" for none). */
  readonly description: string;
}

/** Encodes the data of an NBD_REP_SERVER reply. */
export function encodeServerEntry(entry: ServerEntry): Buffer {
  const name = encodeNbdString(entry.name, 'export name');
  const description = encodeNbdString(entry.description, 'export description');
  const out = Buffer.alloc(4 + name.length + description.length);
  out.writeUInt32BE(name.length, 0);
  name.copy(out, 4);
  description.copy(out, 4 + name.length);
  return out;
}

/** Decodes the data of an NBD_REP_SERVER reply. */
export function decodeServerEntry(data: Buffer): ServerEntry {
  need(data, 4, 'NBD_REP_SERVER data');
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 4) {
    throw new NbdDecodeError('ERR_NBD_LENGTH', `export name length ${nameLength} overruns the reply`);
  }
  return {
    name: decodeNbdString(data.subarray(4, 4 + nameLength), 'export name'),
    description: decodeNbdString(data.subarray(4 + nameLength), 'export description'),
  };
}

/** Size constraints of an export (proto.md "Size constraints"). */
export interface BlockSizes {
  /** Smallest addressable length and alignment. */
  readonly minimum: number;
  /** Smallest efficient length and alignment. */
  readonly preferred: number;
  /** Largest payload of one request. */
  readonly maximum: number;
}

/** One piece of information in an NBD_REP_INFO reply. */
export type NbdInfo =
  | {
      readonly type: 'export';
      /** Export size in bytes. */
      readonly size: bigint;
      /** Transmission flags. */
      readonly flags: number;
    }
  | { readonly type: 'name'; readonly name: string }
  | { readonly type: 'description'; readonly description: string }
  | ({ readonly type: 'block-size' } & BlockSizes)
  | {
      readonly type: 'unknown';
      /** The information type number. */
      readonly code: number;
      /** Its payload, uninterpreted. */
      readonly data: Buffer;
    };

/** Encodes the data of an NBD_REP_INFO reply. */
export function encodeInfo(info: NbdInfo): Buffer {
  switch (info.type) {
    case 'export': {
      checkU64(info.size, 'export size');
      checkUint(info.flags, 16, 'transmission flags');
      const out = Buffer.alloc(12);
      out.writeUInt16BE(Info.EXPORT, 0);
      out.writeBigUInt64BE(info.size, 2);
      out.writeUInt16BE(info.flags, 10);
      return out;
    }
    case 'name':
    case 'description': {
      const text = encodeNbdString(info.type === 'name' ? info.name : info.description, `export ${info.type}`);
      const out = Buffer.alloc(2 + text.length);
      out.writeUInt16BE(info.type === 'name' ? Info.NAME : Info.DESCRIPTION, 0);
      text.copy(out, 2);
      return out;
    }
    case 'block-size': {
      const out = Buffer.alloc(14);
      out.writeUInt16BE(Info.BLOCK_SIZE, 0);
      checkUint(info.minimum, 32, 'minimum block size');
      checkUint(info.preferred, 32, 'preferred block size');
      checkUint(info.maximum, 32, 'maximum payload');
      out.writeUInt32BE(info.minimum, 2);
      out.writeUInt32BE(info.preferred, 6);
      out.writeUInt32BE(info.maximum, 10);
      return out;
    }
    case 'unknown': {
      checkUint(info.code, 16, 'information type');
      if (info.code <= Info.BLOCK_SIZE) {
        throw new NbdEncodeError('ERR_NBD_ENCODE', `information type ${info.code} is not unknown`);
      }
      const out = Buffer.alloc(2 + info.data.length);
      out.writeUInt16BE(info.code, 0);
      info.data.copy(out, 2);
      return out;
    }
  }
}

/** Decodes the data of an NBD_REP_INFO reply; known types must have their exact lengths. */
export function decodeInfo(data: Buffer): NbdInfo {
  need(data, 2, 'NBD_REP_INFO data');
  const code = data.readUInt16BE(0);
  switch (code) {
    case Info.EXPORT:
      exactly(data, 12, 'NBD_INFO_EXPORT');
      return { type: 'export', size: data.readBigUInt64BE(2), flags: data.readUInt16BE(10) };
    case Info.NAME:
      return { type: 'name', name: decodeNbdString(data.subarray(2), 'export name') };
    case Info.DESCRIPTION:
      return { type: 'description', description: decodeNbdString(data.subarray(2), 'export description') };
    case Info.BLOCK_SIZE:
      exactly(data, 14, 'NBD_INFO_BLOCK_SIZE');
      return {
        type: 'block-size',
        minimum: data.readUInt32BE(2),
        preferred: data.readUInt32BE(6),
        maximum: data.readUInt32BE(10),
      };
    default:
      return { type: 'unknown', code, data: Buffer.from(data.subarray(2)) };
  }
}

/** What the server answers NBD_OPT_EXPORT_NAME with. */
export interface ExportNameReply {
  /** Export size in bytes. */
  readonly size: bigint;
  /** Transmission flags. */
  readonly flags: number;
}

/** Encodes the reply to NBD_OPT_EXPORT_NAME, with the 124 zero bytes unless NO_ZEROES was agreed. */
export function encodeExportNameReply(reply: ExportNameReply, noZeroes: boolean): Buffer {
  checkU64(reply.size, 'export size');
  checkUint(reply.flags, 16, 'transmission flags');
  const out = Buffer.alloc(10 + (noZeroes ? 0 : EXPORT_NAME_ZEROES));
  out.writeBigUInt64BE(reply.size, 0);
  out.writeUInt16BE(reply.flags, 8);
  return out;
}

/** Decodes the reply to NBD_OPT_EXPORT_NAME (10 bytes, or 134 with the zeroes). */
export function decodeExportNameReply(bytes: Buffer): ExportNameReply {
  if (bytes.length !== 10 && bytes.length !== 10 + EXPORT_NAME_ZEROES) {
    throw new NbdDecodeError('ERR_NBD_LENGTH', `export name reply must be 10 or 134 bytes, got ${bytes.length}`);
  }
  return { size: bytes.readBigUInt64BE(0), flags: bytes.readUInt16BE(8) };
}

// ---------------------------------------------------------------------------------------------------------------
// Transmission

/** A transmission request's header (a write's payload follows it on the wire). */
export interface RequestHeader {
  /** Command flags (see `CommandFlag`). */
  readonly flags: number;
  /** Command (see `Command`). */
  readonly type: number;
  /** Opaque handle the reply echoes. */
  readonly handle: bigint;
  /** Byte offset into the export. */
  readonly offset: bigint;
  /** Byte length. */
  readonly length: number;
}

/** Encodes a request header. */
export function encodeRequestHeader(request: RequestHeader): Buffer {
  checkUint(request.flags, 16, 'command flags');
  checkUint(request.type, 16, 'command');
  checkU64(request.handle, 'handle');
  checkU64(request.offset, 'offset');
  checkUint(request.length, 32, 'length');
  const out = Buffer.alloc(REQUEST_HEADER_LENGTH);
  out.writeUInt32BE(NBD_REQUEST_MAGIC, 0);
  out.writeUInt16BE(request.flags, 4);
  out.writeUInt16BE(request.type, 6);
  out.writeBigUInt64BE(request.handle, 8);
  out.writeBigUInt64BE(request.offset, 16);
  out.writeUInt32BE(request.length, 24);
  return out;
}

/** Decodes a 28-byte request header; a wrong magic means the stream is lost. */
export function decodeRequestHeader(bytes: Buffer): RequestHeader {
  exactly(bytes, REQUEST_HEADER_LENGTH, 'request header');
  const magic = bytes.readUInt32BE(0);
  if (magic !== NBD_REQUEST_MAGIC) {
    throw new NbdDecodeError('ERR_NBD_MAGIC', `request magic 0x${magic.toString(16)} is not 0x25609513`);
  }
  return {
    flags: bytes.readUInt16BE(4),
    type: bytes.readUInt16BE(6),
    handle: bytes.readBigUInt64BE(8),
    offset: bytes.readBigUInt64BE(16),
    length: bytes.readUInt32BE(24),
  };
}

/** A simple reply's header (a successful read's data follows it on the wire). */
export interface SimpleReplyHeader {
  /** Error value (see `NbdErrno`); 0 for success. */
  readonly error: number;
  /** The request's handle. */
  readonly handle: bigint;
}

/** Encodes a simple reply header. */
export function encodeSimpleReplyHeader(reply: SimpleReplyHeader): Buffer {
  checkUint(reply.error, 32, 'error');
  checkU64(reply.handle, 'handle');
  const out = Buffer.alloc(SIMPLE_REPLY_HEADER_LENGTH);
  out.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  out.writeUInt32BE(reply.error, 4);
  out.writeBigUInt64BE(reply.handle, 8);
  return out;
}

/** Decodes a 16-byte simple reply header (client side). */
export function decodeSimpleReplyHeader(bytes: Buffer): SimpleReplyHeader {
  exactly(bytes, SIMPLE_REPLY_HEADER_LENGTH, 'simple reply header');
  const magic = bytes.readUInt32BE(0);
  if (magic !== NBD_SIMPLE_REPLY_MAGIC) {
    throw new NbdDecodeError('ERR_NBD_MAGIC', `reply magic 0x${magic.toString(16)} is not 0x67446698`);
  }
  return { error: bytes.readUInt32BE(4), handle: bytes.readBigUInt64BE(8) };
}
