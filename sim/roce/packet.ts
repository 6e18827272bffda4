/**
 * A whole RoCEv2 transport packet without its ICRC: BTH, the extension headers its opcode calls for, payload, pad.
 *
 * The encoder derives PadCnt from the payload (`(-len) & 3`, pad bytes are zero) and refuses headers the opcode
 * does not carry. The decoder checks every length and throws only {@link RoceError}; it does not check MTU rules
 * (see {@link payloadLengthProblem}) or receive policy (TVer, QPN, P_Key, Q_Key): those belong to the receiver.
 */
import { AETH_BYTES, readAeth, writeAeth, type Aeth } from './aeth.js';
import {
  ATOMIC_ACK_ETH_BYTES,
  ATOMIC_ETH_BYTES,
  readAtomicAckEth,
  readAtomicEth,
  writeAtomicAckEth,
  writeAtomicEth,
  type AtomicEth,
} from './atomic-eth.js';
import { BTH_BYTES, readBth, writeBth, type Bth } from './bth.js';
import { DETH_BYTES, readDeth, writeDeth, type Deth } from './deth.js';
import { RoceError } from './errors.js';
import { FETH_BYTES, readFeth, writeFeth, type Feth } from './feth.js';
import { IETH_BYTES, IMMDT_BYTES, readU32Header, writeU32Header } from './immediate.js';
import { opcodeInfo, type ExtHeader, type OpcodeInfo } from './opcodes.js';
import { readReth, RETH_BYTES, writeReth, type Reth } from './reth.js';

/** A decoded (or to-be-encoded) RoCEv2 packet; exactly the extension headers of its opcode are present. */
export interface RocePacket {
  /** Base transport header (`padCount` is recomputed from the payload on encode). */
  readonly bth: Bth;
  /** RDMA ETH: WRITE FIRST/ONLY, READ request, FLUSH, ATOMIC_WRITE. */
  readonly reth?: Reth;
  /** ACK ETH: ACK/NAK, read responses except MIDDLE, atomic ACK. */
  readonly aeth?: Aeth;
  /** Immediate data (`*_WITH_IMMEDIATE`), as a big-endian u32. */
  readonly immDt?: number;
  /** The R_Key to invalidate (`SEND_*_WITH_INVALIDATE`). */
  readonly ieth?: number;
  /** Datagram ETH (UD). */
  readonly deth?: Deth;
  /** Atomic ETH (COMPARE_SWAP, FETCH_ADD). */
  readonly atomicEth?: AtomicEth;
  /** Original value returned by an atomic (ATOMIC_ACKNOWLEDGE). */
  readonly atomicAckEth?: bigint;
  /** Flush ETH (FLUSH). */
  readonly feth?: Feth;
  /** Payload without pad. On decode this is a view into the input buffer, not a copy. */
  readonly payload: Buffer;
}

/** The {@link RocePacket} property that holds each extension header. */
export const EXT_HEADER_FIELD = {
  RETH: 'reth',
  AETH: 'aeth',
  ImmDt: 'immDt',
  IETH: 'ieth',
  DETH: 'deth',
  AtomicETH: 'atomicEth',
  AtomicAckETH: 'atomicAckEth',
  FETH: 'feth',
} as const satisfies Record<ExtHeader, keyof RocePacket>;

const EXT_HEADER_BYTES: Readonly<Record<ExtHeader, number>> = {
  RETH: RETH_BYTES,
  AETH: AETH_BYTES,
  ImmDt: IMMDT_BYTES,
  IETH: IETH_BYTES,
  DETH: DETH_BYTES,
  AtomicETH: ATOMIC_ETH_BYTES,
  AtomicAckETH: ATOMIC_ACK_ETH_BYTES,
  FETH: FETH_BYTES,
};

const ALL_EXT_HEADERS = Object.keys(EXT_HEADER_FIELD) as ExtHeader[];

/** Bytes of BTH plus the extension headers of `info` (rxe `opcode.length`). */
export function headerLength(info: OpcodeInfo): number {
  return info.headers.reduce((n, h) => n + EXT_HEADER_BYTES[h], BTH_BYTES);
}

/** Pad bytes that make a payload of `length` bytes a multiple of 4. */
export function padFor(length: number): number {
  return -length & 3;
}

function lookup(opcode: number): OpcodeInfo {
  const info = opcodeInfo(opcode);
  if (info === undefined) {
    throw new RoceError('ERR_ROCE_UNKNOWN_OPCODE', `BTH opcode 0x${opcode.toString(16)} is not an RC/UC/UD opcode`);
  }
  return info;
}

function fixedPayloadProblem(info: OpcodeInfo, length: number): string | undefined {
  if (info.payload === 'none' && length !== 0) return `${info.name} carries no payload, got ${length} bytes`;
  if (info.payload === 'fixed-8' && length !== 8) return `${info.name} carries exactly 8 bytes, got ${length}`;
  return undefined;
}

function writeExtHeader(pkt: RocePacket, header: ExtHeader, out: Buffer, offset: number): void {
  const missing = (): RoceError => new RoceError('ERR_ROCE_INVALID_FIELD', `opcode needs a ${header}`);
  switch (header) {
    case 'RETH':
      if (pkt.reth === undefined) throw missing();
      writeReth(pkt.reth, out, offset);
      break;
    case 'AETH':
      if (pkt.aeth === undefined) throw missing();
      writeAeth(pkt.aeth, out, offset);
      break;
    case 'ImmDt':
      if (pkt.immDt === undefined) throw missing();
      writeU32Header('ImmDt', pkt.immDt, out, offset);
      break;
    case 'IETH':
      if (pkt.ieth === undefined) throw missing();
      writeU32Header('IETH', pkt.ieth, out, offset);
      break;
    case 'DETH':
      if (pkt.deth === undefined) throw missing();
      writeDeth(pkt.deth, out, offset);
      break;
    case 'AtomicETH':
      if (pkt.atomicEth === undefined) throw missing();
      writeAtomicEth(pkt.atomicEth, out, offset);
      break;
    case 'AtomicAckETH':
      if (pkt.atomicAckEth === undefined) throw missing();
      writeAtomicAckEth(pkt.atomicAckEth, out, offset);
      break;
    case 'FETH':
      if (pkt.feth === undefined) throw missing();
      writeFeth(pkt.feth, out, offset);
      break;
  }
}

/** Encodes `pkt` as BTH, extension headers, payload and pad (no ICRC: see the frame helper). */
export function encodeRocePacket(pkt: RocePacket): Buffer {
  const info = lookup(pkt.bth.opcode);
  for (const header of ALL_EXT_HEADERS) {
    if (!info.headers.includes(header) && pkt[EXT_HEADER_FIELD[header]] !== undefined) {
      throw new RoceError('ERR_ROCE_INVALID_FIELD', `${info.name} carries no ${header}`);
    }
  }
  const problem = fixedPayloadProblem(info, pkt.payload.length);
  if (problem !== undefined) throw new RoceError('ERR_ROCE_BAD_PAYLOAD_LENGTH', problem);
  const pad = padFor(pkt.payload.length);
  const headers = headerLength(info);
  const out = Buffer.alloc(headers + pkt.payload.length + pad);
  writeBth({ ...pkt.bth, padCount: pad }, out, 0);
  let offset = BTH_BYTES;
  for (const header of info.headers) {
    writeExtHeader(pkt, header, out, offset);
    offset += EXT_HEADER_BYTES[header];
  }
  pkt.payload.copy(out, offset);
  return out;
}

type MutablePacket = { -readonly [K in keyof RocePacket]: RocePacket[K] };

/** Decodes BTH .. pad (no ICRC). Throws only {@link RoceError}. */
export function decodeRocePacket(buf: Buffer): RocePacket {
  const bth = readBth(buf, 0);
  const info = lookup(bth.opcode);
  const pkt: MutablePacket = { bth, payload: Buffer.alloc(0) };
  let offset = BTH_BYTES;
  for (const header of info.headers) {
    switch (header) {
      case 'RETH':
        pkt.reth = readReth(buf, offset);
        break;
      case 'AETH':
        pkt.aeth = readAeth(buf, offset);
        break;
      case 'ImmDt':
        pkt.immDt = readU32Header('ImmDt', buf, offset);
        break;
      case 'IETH':
        pkt.ieth = readU32Header('IETH', buf, offset);
        break;
      case 'DETH':
        pkt.deth = readDeth(buf, offset);
        break;
      case 'AtomicETH':
        pkt.atomicEth = readAtomicEth(buf, offset);
        break;
      case 'AtomicAckETH':
        pkt.atomicAckEth = readAtomicAckEth(buf, offset);
        break;
      case 'FETH':
        pkt.feth = readFeth(buf, offset);
        break;
    }
    offset += EXT_HEADER_BYTES[header];
  }
  const rest = buf.length - offset;
  // Headers are whole words, so payload + pad is too; a PadCnt that disagrees is malformed.
  if (rest < bth.padCount || rest % 4 !== 0) {
    throw new RoceError('ERR_ROCE_BAD_PAD', `PadCnt ${bth.padCount} does not fit ${rest} bytes after the headers`);
  }
  const payloadLength = rest - bth.padCount;
  const problem = fixedPayloadProblem(info, payloadLength);
  if (problem !== undefined) throw new RoceError('ERR_ROCE_BAD_PAYLOAD_LENGTH', problem);
  pkt.payload = buf.subarray(offset, offset + payloadLength);
  return pkt;
}
