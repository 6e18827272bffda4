import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmMad, encodeCmMad } from '../../../sim/roce/cm-mad.js';
import type { CmRep } from '../../../sim/roce/cm-rep.js';
import { encodeIserCmHeader } from '../../../sim/roce/iser-cm-header.js';
import { arbCmRep } from '../../support/arbitraries/roce.js';
import { asIba, bloc, f32, f64, f8, ibaGet, mloc, type LayoutRow } from './iba-fields.js';

// Table 110 as Linux ibta_vol1_c12.h locates it.
const REP_LAYOUT: readonly LayoutRow<CmRep>[] = [
  ['LOCAL_COMM_ID', f32(0, 32), (m) => m.localCommId],
  ['REMOTE_COMM_ID', f32(4, 32), (m) => m.remoteCommId],
  ['LOCAL_Q_KEY', f32(8, 32), (m) => m.localQkey],
  ['LOCAL_QPN', f32(12, 24), (m) => m.localQpn],
  ['VENDOR_ID_H', f8(15, 8), (m) => m.vendorId >> 16],
  ['LOCAL_EE_CONTEXT_NUMBER', f32(16, 24), (m) => m.localEecn],
  ['VENDOR_ID_M', f8(19, 8), (m) => (m.vendorId >> 8) & 0xff],
  ['STARTING_PSN', f32(20, 24), (m) => m.startingPsn],
  ['VENDOR_ID_L', f8(23, 8), (m) => m.vendorId & 0xff],
  ['RESPONDER_RESOURCES', f8(24, 8), (m) => m.responderResources],
  ['INITIATOR_DEPTH', f8(25, 8), (m) => m.initiatorDepth],
  ['TARGET_ACK_DELAY', f8(26, 5), (m) => m.targetAckDelay],
  ['FAILOVER_ACCEPTED', bloc(26, 5, 2), (m) => m.failoverAccepted],
  ['END_TO_END_FLOW_CONTROL', bloc(26, 7, 1), (m) => m.endToEndFlowControl],
  ['RNR_RETRY_COUNT', f8(27, 3), (m) => m.rnrRetryCount],
  ['SRQ', bloc(27, 3, 1), (m) => m.srq],
  ['LOCAL_CA_GUID', f64(28), (m) => m.localCaGuid],
  ['PRIVATE_DATA', mloc(36, 196), (m) => m.privateData],
];

const ISERT_REP: CmRep = {
  kind: 'REP',
  localCommId: 0x8765_4321,
  remoteCommId: 0x1234_5678,
  localQkey: 0,
  localQpn: 0x000012,
  vendorId: 0,
  localEecn: 0,
  startingPsn: 0x123456,
  responderResources: 0,
  initiatorDepth: 1,
  targetAckDelay: 15,
  failoverAccepted: 1,
  endToEndFlowControl: true,
  rnrRetryCount: 7,
  srq: false,
  localCaGuid: 0x0200_00ff_fe00_0002n,
  privateData: Buffer.concat([
    encodeIserCmHeader({ zbvaNotSupported: true, sendWithInvalidateNotSupported: true }),
    Buffer.alloc(192),
  ]),
};

describe('CM REP', () => {
  it("puts LIO isert's reply where ib_cm reads it", () => {
    const mad = encodeCmMad({ tid: 0xabn, message: ISERT_REP });
    expect(mad.readUInt16BE(16)).toBe(0x0013);
    expect(mad.subarray(24, 24 + 28).toString('hex')).toBe(
      '87654321' +
        '12345678' +
        '00000000' +
        '00001200' +
        '00000000' +
        '12345600' +
        '0001' +
        (15 * 8 + 2 + 1).toString(16) +
        'e0',
    );
    expect(mad.subarray(24 + 36, 24 + 40).toString('hex')).toBe('c0000000');
    expect(decodeCmMad(mad).message).toEqual(ISERT_REP);
  });

  it('lays out every field as ibta_vol1_c12.h says, and round-trips', () => {
    fc.assert(
      fc.property(arbCmRep, (rep) => {
        const mad = encodeCmMad({ tid: 2n, message: rep });
        for (const [name, where, value] of REP_LAYOUT) {
          expect([name, ibaGet(mad, where)]).toEqual([name, asIba(value(rep))]);
        }
        expect(decodeCmMad(mad).message).toEqual(rep);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses oversized fields', () => {
    expect(() => encodeCmMad({ tid: 1n, message: { ...ISERT_REP, rnrRetryCount: 8 } })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
    );
    expect(() => encodeCmMad({ tid: 1n, message: { ...ISERT_REP, privateData: Buffer.alloc(197) } })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
    );
  });
});
