import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CMA_HEADER_BYTES,
  CMA_REQ_CONSUMER_BYTES,
  decodeCmaHeader,
  decodeRdmaCmReqPrivateData,
  encodeCmaHeader,
  encodeRdmaCmReqPrivateData,
  parseRdmaCmServiceId,
  rdmaCmServiceId,
  RdmaPortSpace,
} from '../../../sim/roce/cma-header.js';
import { RoceError } from '../../../sim/roce/errors.js';
import { arbBytes, arbBytesBetween, arbCmaHeaderV4, arbUint } from '../../support/arbitraries/roce.js';

describe('rdma_cm service IDs and cma_hdr', () => {
  it('maps port 3260 to service ID 0x0000000001060CBC (RDMA_PS_TCP)', () => {
    expect(rdmaCmServiceId(3260)).toBe(0x0000000001060cbcn);
    expect(rdmaCmServiceId(4420, RdmaPortSpace.TCP)).toBe(0x0000000001061144n);
    expect(rdmaCmServiceId(7471, RdmaPortSpace.UDP)).toBe(0x0000000001111d2fn);
    expect(parseRdmaCmServiceId(0x0000000001060cbcn)).toEqual({ portSpace: 0x0106, port: 3260 });
    expect(parseRdmaCmServiceId(0x1_0000_0000n)).toBeUndefined();
    fc.assert(
      fc.property(arbUint(16), arbUint(16), (port, portSpace) => {
        expect(parseRdmaCmServiceId(rdmaCmServiceId(port, portSpace))).toEqual({ portSpace, port });
      }),
      { numRuns: 200 },
    );
    expect(() => rdmaCmServiceId(65536)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
  });

  it('lays out an IPv4 cma_hdr as struct cma_hdr (12 zero bytes before each address)', () => {
    const bytes = encodeCmaHeader({ ipVersion: 4, srcPort: 0xb26e, srcAddr: '10.0.0.1', dstAddr: '10.0.0.2' });
    expect(bytes.toString('hex')).toBe(
      '00' + '40' + 'b26e' + '00'.repeat(12) + '0a000001' + '00'.repeat(12) + '0a000002',
    );
  });

  it('lays out an IPv6 cma_hdr with both 16-byte addresses', () => {
    const hdr = { ipVersion: 6 as const, srcPort: 1, srcAddr: 'fd00::1', dstAddr: 'fd00::2' };
    const bytes = encodeCmaHeader(hdr);
    expect(bytes[1]).toBe(0x60);
    expect(bytes.subarray(4, 20).toString('hex')).toBe('fd000000000000000000000000000001');
    expect(decodeCmaHeader(bytes)).toEqual(hdr);
  });

  it('round-trips REQ private data with up to 56 consumer bytes', () => {
    fc.assert(
      fc.property(arbCmaHeaderV4, arbBytesBetween(0, CMA_REQ_CONSUMER_BYTES), (cma, consumer) => {
        const pd = encodeRdmaCmReqPrivateData(cma, consumer);
        expect(pd.length).toBe(CMA_HEADER_BYTES + consumer.length);
        expect(decodeRdmaCmReqPrivateData(pd)).toEqual({ cma, consumer });
      }),
      { numRuns: 200 },
    );
    expect(() =>
      encodeRdmaCmReqPrivateData(
        { ipVersion: 4, srcPort: 1, srcAddr: '1.1.1.1', dstAddr: '2.2.2.2' },
        Buffer.alloc(CMA_REQ_CONSUMER_BYTES + 1),
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
  });

  it('rejects a bad version, IP version or length, and only with RoceError', () => {
    const good = encodeCmaHeader({ ipVersion: 4, srcPort: 1, srcAddr: '1.1.1.1', dstAddr: '2.2.2.2' });
    const version = Buffer.from(good);
    version[0] = 1;
    expect(() => decodeCmaHeader(version)).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_CMA_HEADER' }));
    const ipVersion = Buffer.from(good);
    ipVersion[1] = 0x50;
    expect(() => decodeCmaHeader(ipVersion)).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_CMA_HEADER' }));
    const lowNibble = Buffer.from(good);
    lowNibble[1] = 0x4f; // the low nibble is not the IP version: rdma_cm ignores it
    expect(decodeCmaHeader(lowNibble).ipVersion).toBe(4);
    expect(() => decodeCmaHeader(good.subarray(0, 35))).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }),
    );
    fc.assert(
      fc.property(arbBytes(92), (bytes) => {
        try {
          decodeRdmaCmReqPrivateData(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(RoceError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
