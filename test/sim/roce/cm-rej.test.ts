import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmMad, encodeCmMad } from '../../../sim/roce/cm-mad.js';
import { CmMessageRef, CmRejectReason, type CmRej } from '../../../sim/roce/cm-rej.js';
import { arbCmRej } from '../../support/arbitraries/roce.js';
import { asIba, f16, f32, f8, ibaGet, mloc, type LayoutRow } from './iba-fields.js';

const padTo = (buf: Buffer, n: number): Buffer => Buffer.concat([buf, Buffer.alloc(n - buf.length)]);

// Table 108 as Linux ibta_vol1_c12.h locates it.
const REJ_LAYOUT: readonly LayoutRow<CmRej>[] = [
  ['LOCAL_COMM_ID', f32(0, 32), (m) => m.localCommId],
  ['REMOTE_COMM_ID', f32(4, 32), (m) => m.remoteCommId],
  ['MESSAGE_REJECTED', f8(8, 2), (m) => m.messageRejected],
  ['REJECTED_INFO_LENGTH', f8(9, 7), (m) => m.ari.length],
  ['REASON', f16(10, 16), (m) => m.reason],
  ['ARI', mloc(12, 72), (m) => padTo(m.ari, 72)],
  ['PRIVATE_DATA', mloc(84, 148), (m) => m.privateData],
];

const CONSUMER_REJECT: CmRej = {
  kind: 'REJ',
  localCommId: 0x8765_4321,
  remoteCommId: 0x1234_5678,
  messageRejected: CmMessageRef.REQ,
  reason: CmRejectReason.ConsumerDefined,
  ari: Buffer.from([0xaa, 0xbb, 0xcc]),
  privateData: padTo(Buffer.from('no such target'), 148),
};

describe('CM REJ', () => {
  it('carries a consumer reject (28) with ARI and private data', () => {
    const mad = encodeCmMad({ tid: 5n, message: CONSUMER_REJECT });
    expect(mad.readUInt16BE(16)).toBe(0x0012);
    expect(mad.subarray(24 + 8, 24 + 15).toString('hex')).toBe('00' + '06' + '001c' + 'aabbcc');
    expect(mad.subarray(24 + 84, 24 + 98).toString()).toBe('no such target');
    expect(decodeCmMad(mad).message).toEqual(CONSUMER_REJECT);
    expect(CmRejectReason.VendorOptionNotSupported).toBe(35);
    expect(CmRejectReason.InvalidServiceId).toBe(8);
    expect(CmRejectReason.StaleConnection).toBe(10);
  });

  it('lays out every field as ibta_vol1_c12.h says, and round-trips', () => {
    fc.assert(
      fc.property(arbCmRej, (rej) => {
        const mad = encodeCmMad({ tid: 3n, message: rej });
        for (const [name, where, value] of REJ_LAYOUT) {
          expect([name, ibaGet(mad, where)]).toEqual([name, asIba(value(rej))]);
        }
        expect(decodeCmMad(mad).message).toEqual(rej);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects an ARI length beyond its area, and refuses to send one', () => {
    const mad = encodeCmMad({ tid: 5n, message: CONSUMER_REJECT });
    mad[24 + 9] = 73 << 1;
    expect(() => decodeCmMad(mad)).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_LENGTH' }));
    expect(() => encodeCmMad({ tid: 1n, message: { ...CONSUMER_REJECT, ari: Buffer.alloc(73) } })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
    );
  });
});
