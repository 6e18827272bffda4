/**
 * Numbers of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md): magics, handshake and transmission flags,
 * option and reply codes, information types, commands and error values. Everything on the wire is big-endian.
 */

/** `NBDMAGIC`: the first 8 bytes a server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** `IHAVEOPT`: follows NBDMAGIC in the newstyle greeting, and starts every option the client sends. */
export const NBD_OPTS_MAGIC = 0x49484156454f5054n;
/** Starts every option reply the server sends. */
export const NBD_REP_MAGIC = 0x3e889045565a9n;
/** Starts every transmission request. */
export const NBD_REQUEST_MAGIC = 0x25609513;
/** Starts every simple reply. */
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;

/** Handshake flags (16 bits, server to client). */
export const HandshakeFlag = {
  /** The server speaks fixed newstyle. */
  FIXED_NEWSTYLE: 1 << 0,
  /** The server can leave out the 124 zero bytes after NBD_OPT_EXPORT_NAME. */
  NO_ZEROES: 1 << 1,
} as const;

/** Client flags (32 bits, client to server). */
export const ClientFlag = {
  /** The client speaks fixed newstyle. */
  FIXED_NEWSTYLE: 1 << 0,
  /** The server must leave out the 124 zero bytes after NBD_OPT_EXPORT_NAME. */
  NO_ZEROES: 1 << 1,
} as const;

/** Transmission flags (16 bits), sent with the export size. */
export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Option codes (client to server during the handshake). */
export const Option = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  PEEK_EXPORT: 4,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
  EXTENDED_HEADERS: 11,
} as const;

/** Bit 31 marks an error reply to an option. */
export const REP_ERROR_BIT = 0x8000_0000;

/** Option reply types (server to client during the handshake). */
export const Reply = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: REP_ERROR_BIT + 1,
  ERR_POLICY: REP_ERROR_BIT + 2,
  ERR_INVALID: REP_ERROR_BIT + 3,
  ERR_PLATFORM: REP_ERROR_BIT + 4,
  ERR_TLS_REQD: REP_ERROR_BIT + 5,
  ERR_UNKNOWN: REP_ERROR_BIT + 6,
  ERR_SHUTDOWN: REP_ERROR_BIT + 7,
  ERR_BLOCK_SIZE_REQD: REP_ERROR_BIT + 8,
  ERR_TOO_BIG: REP_ERROR_BIT + 9,
} as const;

/** Information types inside an NBD_REP_INFO reply (and requested by NBD_OPT_INFO / NBD_OPT_GO). */
export const Info = {
  EXPORT: 0,
  NAME: 1,
  DESCRIPTION: 2,
  BLOCK_SIZE: 3,
} as const;

/** Transmission commands. */
export const Command = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
  RESIZE: 8,
} as const;

/** Command flags (16 bits in every request). */
export const CommandFlag = {
  FUA: 1 << 0,
  NO_HOLE: 1 << 1,
  DF: 1 << 2,
  REQ_ONE: 1 << 3,
  FAST_ZERO: 1 << 4,
  PAYLOAD_LEN: 1 << 5,
} as const;

/** Error values of a reply (errno-like, but fixed by the protocol, not by the host). */
export const NbdErrno = {
  OK: 0,
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** One of the protocol's error values. */
export type NbdErrno = (typeof NbdErrno)[keyof typeof NbdErrno];

/** Longest string (export name, description, message) the protocol allows, in bytes. */
export const NBD_MAX_STRING = 4096;

/** Bytes of the newstyle greeting: NBDMAGIC, IHAVEOPT, handshake flags. */
export const GREETING_LENGTH = 18;
/** Bytes of an option header: IHAVEOPT, option, length. */
export const OPTION_HEADER_LENGTH = 16;
/** Bytes of an option reply header: magic, option, type, length. */
export const OPTION_REPLY_HEADER_LENGTH = 20;
/** Bytes of a transmission request header. */
export const REQUEST_HEADER_LENGTH = 28;
/** Bytes of a simple reply header. */
export const SIMPLE_REPLY_HEADER_LENGTH = 16;
/** Zero bytes after the NBD_OPT_EXPORT_NAME reply unless both sides agreed on NO_ZEROES. */
export const EXPORT_NAME_ZEROES = 124;

/** The payload size any client may use without it counting as abuse (2^25, the spec's portability floor). */
export const NBD_PORTABLE_MAX_PAYLOAD = 32 * 1024 * 1024;
