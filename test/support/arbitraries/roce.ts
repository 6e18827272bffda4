/**
 * fast-check arbitraries for the RoCEv2 wire layer (`sim/roce`): transport headers, whole packets of every
 * opcode with exactly the headers it carries, CM messages and paths, rdma_cm addressing.
 */
import fc from 'fast-check';
import type { Aeth, AethSyndrome } from '../../../sim/roce/aeth.js';
import type { AtomicEth } from '../../../sim/roce/atomic-eth.js';
import type { Bth } from '../../../sim/roce/bth.js';
import type { CmDrep, CmDreq } from '../../../sim/roce/cm-disconnect.js';
import type { CmMessage } from '../../../sim/roce/cm-mad.js';
import type { CmMra } from '../../../sim/roce/cm-mra.js';
import type { CmPath } from '../../../sim/roce/cm-path.js';
import { CM_PRIVATE_DATA_BYTES } from '../../../sim/roce/cm-private-data.js';
import type { CmRej } from '../../../sim/roce/cm-rej.js';
import type { CmRep } from '../../../sim/roce/cm-rep.js';
import type { CmReq } from '../../../sim/roce/cm-req.js';
import type { CmRtu } from '../../../sim/roce/cm-rtu.js';
import type { CmSidrRep, CmSidrReq } from '../../../sim/roce/cm-sidr.js';
import type { CmaHeader } from '../../../sim/roce/cma-header.js';
import type { Deth } from '../../../sim/roce/deth.js';
import type { Feth } from '../../../sim/roce/feth.js';
import { ALL_OPCODES, type OpcodeInfo } from '../../../sim/roce/opcodes.js';
import type { RocePacket } from '../../../sim/roce/packet.js';
import type { Reth } from '../../../sim/roce/reth.js';

/** An unsigned integer of `bits` bits. */
export const arbUint = (bits: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** bits - 1 });

/** A 64-bit unsigned bigint. */
export const arbU64: fc.Arbitrary<bigint> = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });

/** A Buffer of exactly `length` random bytes. */
export const arbBytes = (length: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: length, maxLength: length }).map((a) => Buffer.from(a));

/** A Buffer of `min..max` random bytes. */
export const arbBytesBetween = (min: number, max: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));

/** Any BTH (any opcode byte, all fields in range). */
export const arbBth: fc.Arbitrary<Bth> = fc.record({
  opcode: arbUint(8),
  solicited: fc.boolean(),
  migReq: fc.boolean(),
  padCount: arbUint(2),
  tver: arbUint(4),
  pkey: arbUint(16),
  fecn: fc.boolean(),
  becn: fc.boolean(),
  destQp: arbUint(24),
  ackReq: fc.boolean(),
  psn: arbUint(24),
});

/** Any RETH. */
export const arbReth: fc.Arbitrary<Reth> = fc.record({ va: arbU64, rkey: arbUint(32), length: arbUint(32) });

/** Any valid AETH syndrome (ACK, RNR NAK or NAK, 5-bit value). */
export const arbAethSyndrome: fc.Arbitrary<AethSyndrome> = fc.oneof(
  arbUint(5).map((credits) => ({ kind: 'ack' as const, credits })),
  arbUint(5).map((timer) => ({ kind: 'rnr-nak' as const, timer })),
  arbUint(5).map((code) => ({ kind: 'nak' as const, code })),
);

/** Any valid AETH. */
export const arbAeth: fc.Arbitrary<Aeth> = fc.record({ syndrome: arbAethSyndrome, msn: arbUint(24) });

/** Any DETH. */
export const arbDeth: fc.Arbitrary<Deth> = fc.record({ qkey: arbUint(32), srcQp: arbUint(24) });

/** Any AtomicETH. */
export const arbAtomicEth: fc.Arbitrary<AtomicEth> = fc.record({
  va: arbU64,
  rkey: arbUint(32),
  swapAdd: arbU64,
  compare: arbU64,
});

/** Any FETH. */
export const arbFeth: fc.Arbitrary<Feth> = fc.record({ placementType: arbUint(4), selectivity: arbUint(2) });

/** Options of {@link arbRocePacket}. */
export interface RocePacketArbOptions {
  /** Only these opcodes; default every opcode in the table. */
  readonly opcodes?: readonly OpcodeInfo[];
  /** When set, payload lengths obey the opcode's MTU rule for this MTU; otherwise 0..maxPayload. */
  readonly mtu?: number;
  /** Upper bound of payload lengths without an MTU; default 64. */
  readonly maxPayload?: number;
}

function payloadLength(info: OpcodeInfo, options: RocePacketArbOptions): fc.Arbitrary<number> {
  const max = options.mtu ?? options.maxPayload ?? 64;
  switch (info.payload) {
    case 'none':
      return fc.constant(0);
    case 'fixed-8':
      return fc.constant(8);
    case 'first':
    case 'middle':
      return options.mtu === undefined ? fc.integer({ min: 0, max }) : fc.constant(options.mtu);
    case 'last':
      return fc.integer({ min: options.mtu === undefined ? 0 : 1, max });
    case 'only':
      return fc.integer({ min: 0, max });
  }
}

/** A packet of `info`'s opcode with exactly its headers; `padCount` is the one the encoder derives. */
export function arbPacketFor(info: OpcodeInfo, options: RocePacketArbOptions = {}): fc.Arbitrary<RocePacket> {
  const has = (h: OpcodeInfo['headers'][number]): boolean => info.headers.includes(h);
  return fc
    .record({
      bth: arbBth,
      reth: arbReth,
      aeth: arbAeth,
      immDt: arbUint(32),
      ieth: arbUint(32),
      deth: arbDeth,
      atomicEth: arbAtomicEth,
      atomicAckEth: arbU64,
      feth: arbFeth,
      payload: payloadLength(info, options).chain((n) => arbBytes(n)),
    })
    .map((r) => ({
      bth: { ...r.bth, opcode: info.code, padCount: -r.payload.length & 3 },
      ...(has('RETH') ? { reth: r.reth } : {}),
      ...(has('AETH') ? { aeth: r.aeth } : {}),
      ...(has('ImmDt') ? { immDt: r.immDt } : {}),
      ...(has('IETH') ? { ieth: r.ieth } : {}),
      ...(has('DETH') ? { deth: r.deth } : {}),
      ...(has('AtomicETH') ? { atomicEth: r.atomicEth } : {}),
      ...(has('AtomicAckETH') ? { atomicAckEth: r.atomicAckEth } : {}),
      ...(has('FETH') ? { feth: r.feth } : {}),
      payload: r.payload,
    }));
}

/** A packet of any known opcode (or of `options.opcodes`). */
export function arbRocePacket(options: RocePacketArbOptions = {}): fc.Arbitrary<RocePacket> {
  return fc.constantFrom(...(options.opcodes ?? ALL_OPCODES)).chain((info) => arbPacketFor(info, options));
}

/** A 16-byte GID. */
export const arbGid: fc.Arbitrary<Buffer> = arbBytes(16);

/** Any CM path (hop limit ≥ 1, so an alternate path is never all zero on the wire). */
export const arbCmPath: fc.Arbitrary<CmPath> = fc.record({
  localLid: arbUint(16),
  remoteLid: arbUint(16),
  localGid: arbGid,
  remoteGid: arbGid,
  flowLabel: arbUint(20),
  packetRate: arbUint(6),
  trafficClass: arbUint(8),
  hopLimit: fc.integer({ min: 1, max: 255 }),
  sl: arbUint(4),
  subnetLocal: fc.boolean(),
  localAckTimeout: arbUint(5),
});

const privateData = (kind: keyof typeof CM_PRIVATE_DATA_BYTES): fc.Arbitrary<Buffer> =>
  arbBytes(CM_PRIVATE_DATA_BYTES[kind]);

/** Any CM REQ (full-size private data, with or without an alternate path). */
export const arbCmReq: fc.Arbitrary<CmReq> = fc
  .record({
    localCommId: arbUint(32),
    vendorId: arbUint(24),
    serviceId: arbU64,
    localCaGuid: arbU64,
    localQkey: arbUint(32),
    localQpn: arbUint(24),
    responderResources: arbUint(8),
    localEecn: arbUint(24),
    initiatorDepth: arbUint(8),
    remoteEecn: arbUint(24),
    remoteCmResponseTimeout: arbUint(5),
    transportServiceType: arbUint(2),
    endToEndFlowControl: fc.boolean(),
    startingPsn: arbUint(24),
    localCmResponseTimeout: arbUint(5),
    retryCount: arbUint(3),
    pkey: arbUint(16),
    pathMtu: arbUint(4),
    rdcExists: fc.boolean(),
    rnrRetryCount: arbUint(3),
    maxCmRetries: arbUint(4),
    srq: fc.boolean(),
    extendedTransportType: arbUint(3),
    primaryPath: arbCmPath,
    alternatePath: fc.option(arbCmPath, { nil: undefined }),
    sapSupported: fc.boolean(),
    privateData: privateData('REQ'),
  })
  .map(({ alternatePath, ...rest }) => ({
    kind: 'REQ' as const,
    ...rest,
    ...(alternatePath === undefined ? {} : { alternatePath }),
  }));

/** Any CM REP. */
export const arbCmRep: fc.Arbitrary<CmRep> = fc.record({
  kind: fc.constant('REP' as const),
  localCommId: arbUint(32),
  remoteCommId: arbUint(32),
  localQkey: arbUint(32),
  localQpn: arbUint(24),
  vendorId: arbUint(24),
  localEecn: arbUint(24),
  startingPsn: arbUint(24),
  responderResources: arbUint(8),
  initiatorDepth: arbUint(8),
  targetAckDelay: arbUint(5),
  failoverAccepted: arbUint(2),
  endToEndFlowControl: fc.boolean(),
  rnrRetryCount: arbUint(3),
  srq: fc.boolean(),
  localCaGuid: arbU64,
  privateData: privateData('REP'),
});

/** Any CM REJ (ARI of 0..72 bytes). */
export const arbCmRej: fc.Arbitrary<CmRej> = fc.record({
  kind: fc.constant('REJ' as const),
  localCommId: arbUint(32),
  remoteCommId: arbUint(32),
  messageRejected: arbUint(2),
  reason: arbUint(16),
  ari: arbBytesBetween(0, 72),
  privateData: privateData('REJ'),
});

/** Any CM MRA. */
export const arbCmMra: fc.Arbitrary<CmMra> = fc.record({
  kind: fc.constant('MRA' as const),
  localCommId: arbUint(32),
  remoteCommId: arbUint(32),
  messageMraed: arbUint(2),
  serviceTimeout: arbUint(5),
  privateData: privateData('MRA'),
});

/** Any CM RTU. */
export const arbCmRtu: fc.Arbitrary<CmRtu> = fc.record({
  kind: fc.constant('RTU' as const),
  localCommId: arbUint(32),
  remoteCommId: arbUint(32),
  privateData: privateData('RTU'),
});

/** Any CM DREQ. */
export const arbCmDreq: fc.Arbitrary<CmDreq> = fc.record({
  kind: fc.constant('DREQ' as const),
  localCommId: arbUint(32),
  remoteCommId: arbUint(32),
  remoteQpn: arbUint(24),
  privateData: privateData('DREQ'),
});

/** Any CM DREP. */
export const arbCmDrep: fc.Arbitrary<CmDrep> = fc.record({
  kind: fc.constant('DREP' as const),
  localCommId: arbUint(32),
  remoteCommId: arbUint(32),
  privateData: privateData('DREP'),
});

/** Any SIDR_REQ. */
export const arbCmSidrReq: fc.Arbitrary<CmSidrReq> = fc.record({
  kind: fc.constant('SIDR_REQ' as const),
  requestId: arbUint(32),
  pkey: arbUint(16),
  serviceId: arbU64,
  privateData: privateData('SIDR_REQ'),
});

/** Any SIDR_REP (additional info of 0..72 bytes). */
export const arbCmSidrRep: fc.Arbitrary<CmSidrRep> = fc.record({
  kind: fc.constant('SIDR_REP' as const),
  requestId: arbUint(32),
  status: arbUint(8),
  vendorId: arbUint(24),
  qpn: arbUint(24),
  serviceId: arbU64,
  qkey: arbUint(32),
  additionalInfo: arbBytesBetween(0, 72),
  privateData: privateData('SIDR_REP'),
});

/** Any CM message this codec handles. */
export const arbCmMessage: fc.Arbitrary<CmMessage> = fc.oneof(
  arbCmReq,
  arbCmRep,
  arbCmRej,
  arbCmMra,
  arbCmRtu,
  arbCmDreq,
  arbCmDrep,
  arbCmSidrReq,
  arbCmSidrRep,
);

/** An IPv4 address as dotted text. */
export const arbIpv4Text: fc.Arbitrary<string> = fc.ipV4();

/** Any rdma_cm `cma_hdr` (IPv4 as dotted quads, IPv6 as 16 bytes formatted canonically by the decoder). */
export const arbCmaHeaderV4: fc.Arbitrary<CmaHeader> = fc.record({
  ipVersion: fc.constant(4 as const),
  srcPort: arbUint(16),
  srcAddr: arbIpv4Text,
  dstAddr: arbIpv4Text,
});
