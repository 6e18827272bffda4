import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmMad, encodeCmMad } from '../../../sim/roce/cm-mad.js';
import { PERMISSIVE_LID, type CmPath } from '../../../sim/roce/cm-path.js';
import { CmTransportServiceType, IbMtu, ibMtuBytes, type CmReq } from '../../../sim/roce/cm-req.js';
import { encodeRdmaCmReqPrivateData, rdmaCmServiceId } from '../../../sim/roce/cma-header.js';
import { gidFromIp } from '../../../sim/roce/ip-address.js';
import { encodeIserCmHeader } from '../../../sim/roce/iser-cm-header.js';
import { arbCmPath, arbCmReq } from '../../support/arbitraries/roce.js';
import { asIba, bloc, f16, f32, f64, f8, ibaGet, mloc, type LayoutRow } from './iba-fields.js';

const path = (p: CmPath | undefined): CmPath => p ?? EMPTY_PATH;
const EMPTY_PATH: CmPath = {
  localLid: 0,
  remoteLid: 0,
  localGid: Buffer.alloc(16),
  remoteGid: Buffer.alloc(16),
  flowLabel: 0,
  packetRate: 0,
  trafficClass: 0,
  hopLimit: 0,
  sl: 0,
  subnetLocal: false,
  localAckTimeout: 0,
};

// Table 106 as Linux include/rdma/ibta_vol1_c12.h locates it (message offsets; the MAD header adds 24).
const REQ_LAYOUT: readonly LayoutRow<CmReq>[] = [
  ['LOCAL_COMM_ID', f32(0, 32), (m) => m.localCommId],
  ['VENDOR_ID', f32(5, 24), (m) => m.vendorId],
  ['SERVICE_ID', f64(8), (m) => m.serviceId],
  ['LOCAL_CA_GUID', f64(16), (m) => m.localCaGuid],
  ['LOCAL_Q_KEY', f32(28, 32), (m) => m.localQkey],
  ['LOCAL_QPN', f32(32, 24), (m) => m.localQpn],
  ['RESPONDER_RESOURCES', f8(35, 8), (m) => m.responderResources],
  ['LOCAL_EECN', f32(36, 24), (m) => m.localEecn],
  ['INITIATOR_DEPTH', f8(39, 8), (m) => m.initiatorDepth],
  ['REMOTE_EECN', f32(40, 24), (m) => m.remoteEecn],
  ['REMOTE_CM_RESPONSE_TIMEOUT', f8(43, 5), (m) => m.remoteCmResponseTimeout],
  ['TRANSPORT_SERVICE_TYPE', bloc(43, 5, 2), (m) => m.transportServiceType],
  ['END_TO_END_FLOW_CONTROL', bloc(43, 7, 1), (m) => m.endToEndFlowControl],
  ['STARTING_PSN', f32(44, 24), (m) => m.startingPsn],
  ['LOCAL_CM_RESPONSE_TIMEOUT', f8(47, 5), (m) => m.localCmResponseTimeout],
  ['RETRY_COUNT', bloc(47, 5, 3), (m) => m.retryCount],
  ['PARTITION_KEY', f16(48, 16), (m) => m.pkey],
  ['PATH_PACKET_PAYLOAD_MTU', f8(50, 4), (m) => m.pathMtu],
  ['RDC_EXISTS', bloc(50, 4, 1), (m) => m.rdcExists],
  ['RNR_RETRY_COUNT', bloc(50, 5, 3), (m) => m.rnrRetryCount],
  ['MAX_CM_RETRIES', f8(51, 4), (m) => m.maxCmRetries],
  ['SRQ', bloc(51, 4, 1), (m) => m.srq],
  ['EXTENDED_TRANSPORT_TYPE', bloc(51, 5, 3), (m) => m.extendedTransportType],
  ['PRIMARY_LOCAL_PORT_LID', f16(52, 16), (m) => m.primaryPath.localLid],
  ['PRIMARY_REMOTE_PORT_LID', f16(54, 16), (m) => m.primaryPath.remoteLid],
  ['PRIMARY_LOCAL_PORT_GID', mloc(56, 16), (m) => m.primaryPath.localGid],
  ['PRIMARY_REMOTE_PORT_GID', mloc(72, 16), (m) => m.primaryPath.remoteGid],
  ['PRIMARY_FLOW_LABEL', f32(88, 20), (m) => m.primaryPath.flowLabel],
  ['PRIMARY_PACKET_RATE', bloc(91, 2, 6), (m) => m.primaryPath.packetRate],
  ['PRIMARY_TRAFFIC_CLASS', f8(92, 8), (m) => m.primaryPath.trafficClass],
  ['PRIMARY_HOP_LIMIT', f8(93, 8), (m) => m.primaryPath.hopLimit],
  ['PRIMARY_SL', f8(94, 4), (m) => m.primaryPath.sl],
  ['PRIMARY_SUBNET_LOCAL', bloc(94, 4, 1), (m) => m.primaryPath.subnetLocal],
  ['PRIMARY_LOCAL_ACK_TIMEOUT', f8(95, 5), (m) => m.primaryPath.localAckTimeout],
  ['ALTERNATE_LOCAL_PORT_LID', f16(96, 16), (m) => path(m.alternatePath).localLid],
  ['ALTERNATE_REMOTE_PORT_LID', f16(98, 16), (m) => path(m.alternatePath).remoteLid],
  ['ALTERNATE_LOCAL_PORT_GID', mloc(100, 16), (m) => path(m.alternatePath).localGid],
  ['ALTERNATE_REMOTE_PORT_GID', mloc(116, 16), (m) => path(m.alternatePath).remoteGid],
  ['ALTERNATE_FLOW_LABEL', f32(132, 20), (m) => path(m.alternatePath).flowLabel],
  ['ALTERNATE_PACKET_RATE', bloc(135, 2, 6), (m) => path(m.alternatePath).packetRate],
  ['ALTERNATE_TRAFFIC_CLASS', f8(136, 8), (m) => path(m.alternatePath).trafficClass],
  ['ALTERNATE_HOP_LIMIT', f8(137, 8), (m) => path(m.alternatePath).hopLimit],
  ['ALTERNATE_SL', f8(138, 4), (m) => path(m.alternatePath).sl],
  ['ALTERNATE_SUBNET_LOCAL', bloc(138, 4, 1), (m) => path(m.alternatePath).subnetLocal],
  ['ALTERNATE_LOCAL_ACK_TIMEOUT', f8(139, 5), (m) => path(m.alternatePath).localAckTimeout],
  ['SAP_SUPPORTED', bloc(139, 5, 1), (m) => m.sapSupported],
  ['PRIVATE_DATA', mloc(140, 92), (m) => m.privateData],
];

/** A REQ as rdma_cm sends it for an iSER initiator on RoCEv2/IPv4 (values as in roce-rxe.md §3.10). */
const ISER_REQ: CmReq = {
  kind: 'REQ',
  localCommId: 0x1234_5678,
  vendorId: 0,
  serviceId: rdmaCmServiceId(3260),
  localCaGuid: 0x0200_00ff_fe00_0001n,
  localQkey: 0,
  localQpn: 0x000011,
  responderResources: 16,
  localEecn: 0,
  initiatorDepth: 1,
  remoteEecn: 0,
  remoteCmResponseTimeout: 20,
  transportServiceType: CmTransportServiceType.RC,
  endToEndFlowControl: true,
  startingPsn: 0xabcdef,
  localCmResponseTimeout: 20,
  retryCount: 6,
  pkey: 0xffff,
  pathMtu: IbMtu.MTU_1024,
  rdcExists: false,
  rnrRetryCount: 6,
  maxCmRetries: 15,
  srq: false,
  extendedTransportType: 0,
  primaryPath: {
    localLid: PERMISSIVE_LID,
    remoteLid: PERMISSIVE_LID,
    localGid: gidFromIp('10.0.0.1', 4),
    remoteGid: gidFromIp('10.0.0.2', 4),
    flowLabel: 0,
    packetRate: 3,
    trafficClass: 0,
    hopLimit: 64,
    sl: 0,
    subnetLocal: false,
    localAckTimeout: 18,
  },
  sapSupported: false,
  privateData: Buffer.concat([
    encodeRdmaCmReqPrivateData(
      { ipVersion: 4, srcPort: 45678, srcAddr: '10.0.0.1', dstAddr: '10.0.0.2' },
      encodeIserCmHeader({ zbvaNotSupported: true, sendWithInvalidateNotSupported: true }),
    ),
    Buffer.alloc(52),
  ]),
};

describe('CM REQ', () => {
  it("puts an iSER initiator's REQ fields where Linux ib_cm reads them", () => {
    const mad = encodeCmMad({ tid: 0x0000_0001_0000_00abn, message: ISER_REQ });
    expect(mad.length).toBe(256);
    expect(mad.subarray(0, 4).toString('hex')).toBe('01070203'); // base 1, class CM, version 2, Send
    expect(mad.readUInt16BE(16)).toBe(0x0010);
    expect(mad.subarray(24 + 8, 24 + 16).toString('hex')).toBe('0000000001060cbc');
    expect(mad.subarray(24 + 32, 24 + 36).toString('hex')).toBe('00001110'); // QPN 0x11, responder resources 16
    expect(mad[24 + 39]).toBe(1); // initiator depth
    expect(mad[24 + 43]).toBe((20 << 3) | 1); // remote CM response timeout 20, RC, end-to-end flow control
    expect(mad.subarray(24 + 44, 24 + 48).toString('hex')).toBe('abcdef' + ((20 << 3) | 6).toString(16));
    expect(mad.subarray(24 + 48, 24 + 52).toString('hex')).toBe('ffff36f0'); // P_Key, MTU 1024 | RNR 6, 15 retries
    expect(mad.subarray(24 + 52, 24 + 56).toString('hex')).toBe('ffffffff');
    expect(mad.subarray(24 + 56, 24 + 72).toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(mad.subarray(24 + 72, 24 + 88).toString('hex')).toBe('00000000000000000000ffff0a000002');
    expect(mad.subarray(24 + 88, 24 + 96).toString('hex')).toBe('00000003' + '0040' + '00' + (18 << 3).toString(16));
    expect(mad.subarray(24 + 96, 24 + 140).every((b) => b === 0)).toBe(true);
    expect(mad.subarray(24 + 140, 24 + 180).toString('hex')).toBe(
      '0040b26e' + '000000000000000000000000' + '0a000001' + '000000000000000000000000' + '0a000002' + 'c0000000',
    );
    const decoded = decodeCmMad(mad);
    expect(decoded.header.tid).toBe(0x0000_0001_0000_00abn);
    expect(decoded.message).toEqual(ISER_REQ);
  });

  it('lays out every field as ibta_vol1_c12.h says', () => {
    fc.assert(
      fc.property(arbCmReq, (req) => {
        const mad = encodeCmMad({ tid: 1n, message: req });
        for (const [name, where, value] of REQ_LAYOUT) {
          expect([name, ibaGet(mad, where)]).toEqual([name, asIba(value(req))]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('round-trips, with and without an alternate path, and with the SAP bit alone', () => {
    fc.assert(
      fc.property(arbCmReq, (req) => {
        expect(decodeCmMad(encodeCmMad({ tid: 7n, message: req })).message).toEqual(req);
      }),
      { numRuns: 200 },
    );
    const sapOnly: CmReq = { ...ISER_REQ, sapSupported: true };
    const decoded = decodeCmMad(encodeCmMad({ tid: 1n, message: sapOnly })).message;
    expect(decoded).toEqual(sapOnly);
    expect('alternatePath' in decoded).toBe(false);
  });

  it('zero-fills short private data and refuses oversized fields', () => {
    const short = { ...ISER_REQ, privateData: Buffer.from([1, 2, 3]) };
    const back = decodeCmMad(encodeCmMad({ tid: 1n, message: short })).message;
    expect(back.kind === 'REQ' && back.privateData).toEqual(Buffer.concat([Buffer.from([1, 2, 3]), Buffer.alloc(89)]));
    const invalid = (req: CmReq): void => {
      expect(() => encodeCmMad({ tid: 1n, message: req })).toThrow(
        expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
      );
    };
    invalid({ ...ISER_REQ, privateData: Buffer.alloc(93) });
    invalid({ ...ISER_REQ, localQpn: 1 << 24 });
    invalid({ ...ISER_REQ, retryCount: 8 });
    invalid({ ...ISER_REQ, serviceId: -1n });
    invalid({ ...ISER_REQ, primaryPath: { ...ISER_REQ.primaryPath, localGid: Buffer.alloc(4) } });
    invalid({ ...ISER_REQ, primaryPath: { ...ISER_REQ.primaryPath, flowLabel: 1 << 20 } });
  });

  it('knows the IB MTU enum', () => {
    expect(ibMtuBytes(IbMtu.MTU_256)).toBe(256);
    expect(ibMtuBytes(IbMtu.MTU_1024)).toBe(1024);
    expect(ibMtuBytes(IbMtu.MTU_4096)).toBe(4096);
    expect(ibMtuBytes(0)).toBeUndefined();
    expect(ibMtuBytes(6)).toBeUndefined();
  });

  it('reads any alternate path it is given', () => {
    fc.assert(
      fc.property(arbCmPath, (alternatePath) => {
        const req: CmReq = { ...ISER_REQ, alternatePath };
        expect(decodeCmMad(encodeCmMad({ tid: 1n, message: req })).message).toEqual(req);
      }),
      { numRuns: 50 },
    );
  });
});
