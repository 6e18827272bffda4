/**
 * A small pcapng writer (draft-ietf-opsawg-pcapng): Section Header, Interface Description and Enhanced Packet
 * blocks, little-endian. Pure: it produces Buffers; writing them anywhere is the caller's job.
 *
 * Timestamps are virtual milliseconds (what a `SchedulerLike.now()` returns), converted to the interface's
 * resolution (nanoseconds by default). Exact tick counts can be given instead as a bigint.
 */
import { TraceError } from './errors.js';

/** LINKTYPE_ETHERNET. */
export const LINKTYPE_ETHERNET = 1;

const BLOCK_SHB = 0x0a0d0d0a;
const BLOCK_IDB = 0x00000001;
const BLOCK_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_TSRESOL = 9;

/** One frame with its capture time, as the synthesizers produce it. */
export interface CapturedFrame {
  /** The frame's bytes, starting with the link-layer header. */
  readonly data: Buffer;
  /** Capture time in virtual milliseconds (fractions allowed). */
  readonly timeMs: number;
  /** Shown by Wireshark as the packet comment (`frame.comment`). */
  readonly comment?: string;
  /** Interface it was captured on; default 0. */
  readonly interfaceId?: number;
}

/** Options of an Interface Description Block. */
export interface PcapngInterface {
  /** Link type; default {@link LINKTYPE_ETHERNET}. */
  readonly linkType?: number;
  /** Shown as the interface name. */
  readonly name?: string;
  /** Timestamp resolution; default `'ns'`. */
  readonly tsresol?: 'ns' | 'us';
  /** Snapshot length; default 0 (no limit). */
  readonly snapLen?: number;
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** Encodes an option list (code, value) into TLVs ending in opt_endofopt; empty when there are none. */
function encodeOptions(options: readonly (readonly [number, Buffer])[]): Buffer {
  if (options.length === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for (const [code, value] of options) {
    const head = Buffer.alloc(4);
    head.writeUInt16LE(code, 0);
    head.writeUInt16LE(value.length, 2);
    parts.push(head, value, Buffer.alloc(pad4(value.length)));
  }
  parts.push(Buffer.from([OPT_ENDOFOPT, 0, 0, 0]));
  return Buffer.concat(parts);
}

/** Wraps a block body with its type and the total length it carries at both ends. */
function block(type: number, body: readonly Buffer[]): Buffer {
  const bodyLength = body.reduce((n, b) => n + b.length, 0);
  const total = 12 + bodyLength;
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(total, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(total, 0);
  return Buffer.concat([head, ...body, tail]);
}

/** A Section Header Block (version 1.0, section length unknown). */
export function sectionHeaderBlock(userApplication = 'iser sim'): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeUInt16LE(0, 6);
  fixed.writeBigInt64LE(-1n, 8);
  return block(BLOCK_SHB, [fixed, encodeOptions([[SHB_USERAPPL, Buffer.from(userApplication)]])]);
}

/** An Interface Description Block. */
export function interfaceDescriptionBlock(iface: PcapngInterface = {}): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(iface.linkType ?? LINKTYPE_ETHERNET, 0);
  fixed.writeUInt32LE(iface.snapLen ?? 0, 4);
  const options: [number, Buffer][] = [[IF_TSRESOL, Buffer.from([(iface.tsresol ?? 'ns') === 'ns' ? 9 : 6])]];
  if (iface.name !== undefined) options.unshift([IF_NAME, Buffer.from(iface.name)]);
  return block(BLOCK_IDB, [fixed, encodeOptions(options)]);
}

/** Converts virtual milliseconds to ticks of the given resolution (rounded to the nearest tick). */
export function msToTicks(timeMs: number, tsresol: 'ns' | 'us' = 'ns'): bigint {
  if (!Number.isFinite(timeMs) || timeMs < 0) {
    throw new TraceError('ERR_TRACE_BAD_TIMESTAMP', `timestamp must be a finite, non-negative ms count: ${timeMs}`);
  }
  // Split whole ms from the fraction so large times keep sub-ms precision.
  const whole = Math.floor(timeMs);
  const perMs = tsresol === 'ns' ? 1_000_000 : 1_000;
  return BigInt(whole) * BigInt(perMs) + BigInt(Math.round((timeMs - whole) * perMs));
}

/** An Enhanced Packet Block; `ticks` is the timestamp in units of the interface's resolution. */
export function enhancedPacketBlock(interfaceId: number, ticks: bigint, data: Buffer, comment?: string): Buffer {
  if (ticks < 0n || ticks > 0xffff_ffff_ffff_ffffn) {
    throw new TraceError('ERR_TRACE_BAD_TIMESTAMP', `timestamp ${ticks} does not fit 64 bits`);
  }
  const fixed = Buffer.alloc(20);
  fixed.writeUInt32LE(interfaceId, 0);
  fixed.writeUInt32LE(Number(ticks >> 32n), 4);
  fixed.writeUInt32LE(Number(ticks & 0xffff_ffffn), 8);
  fixed.writeUInt32LE(data.length, 12);
  fixed.writeUInt32LE(data.length, 16);
  const options = comment === undefined ? [] : ([[OPT_COMMENT, Buffer.from(comment)]] as const);
  return block(BLOCK_EPB, [fixed, data, Buffer.alloc(pad4(data.length)), encodeOptions(options)]);
}

/** Collects blocks in memory: a section header, interfaces, then packets; `toBuffer()` gives the file's bytes. */
export class PcapngWriter {
  private readonly blocks: Buffer[];
  private readonly interfaces: ('ns' | 'us')[] = [];

  /** Starts a section; `userApplication` is recorded in the section header. */
  constructor(userApplication?: string) {
    this.blocks = [sectionHeaderBlock(userApplication)];
  }

  /** Adds an interface and returns its id (the first is 0). */
  addInterface(iface: PcapngInterface = {}): number {
    this.blocks.push(interfaceDescriptionBlock(iface));
    this.interfaces.push(iface.tsresol ?? 'ns');
    return this.interfaces.length - 1;
  }

  /** Adds one packet at `timeMs` virtual milliseconds (or exact `ticks`); creates an Ethernet interface if none. */
  addPacket(
    data: Buffer,
    time: number | { readonly ticks: bigint },
    opts: { comment?: string; interfaceId?: number } = {},
  ): void {
    if (this.interfaces.length === 0) this.addInterface();
    const interfaceId = opts.interfaceId ?? 0;
    const tsresol = this.interfaces[interfaceId];
    if (tsresol === undefined) {
      throw new TraceError('ERR_TRACE_FIELD_RANGE', `no interface ${interfaceId} (have ${this.interfaces.length})`);
    }
    const ticks = typeof time === 'number' ? msToTicks(time, tsresol) : time.ticks;
    this.blocks.push(enhancedPacketBlock(interfaceId, ticks, data, opts.comment));
  }

  /** Adds frames produced by the synthesizers, in order. */
  addFrames(frames: readonly CapturedFrame[]): void {
    for (const f of frames) {
      this.addPacket(f.data, f.timeMs, {
        ...(f.comment === undefined ? {} : { comment: f.comment }),
        ...(f.interfaceId === undefined ? {} : { interfaceId: f.interfaceId }),
      });
    }
  }

  /** Number of packets added so far. */
  get packetCount(): number {
    return this.blocks.length - 1 - this.interfaces.length;
  }

  /** The whole pcapng file. */
  toBuffer(): Buffer {
    return Buffer.concat(this.blocks);
  }
}
