import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCmMad, encodeCmMad } from '../../../sim/roce/cm-mad.js';
import { RoceError } from '../../../sim/roce/errors.js';
import { CmAttributeId } from '../../../sim/roce/mad.js';
import { arbBytes, arbCmMessage, arbU64, arbUint } from '../../support/arbitraries/roce.js';

describe('CM MAD codec', () => {
  it('round-trips every message with its TID and attribute modifier', () => {
    fc.assert(
      fc.property(arbCmMessage, arbU64, arbUint(32), (message, tid, attributeModifier) => {
        const mad = encodeCmMad({ tid, attributeModifier, message });
        const decoded = decodeCmMad(mad);
        expect(decoded.message).toEqual(message);
        expect(decoded.header).toMatchObject({ tid, attributeModifier, attributeId: CmAttributeId[message.kind] });
        expect(encodeCmMad({ tid, attributeModifier, message: decoded.message })).toEqual(mad);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects what is not a CM MAD with ERR_CM_BAD_MAD or ERR_CM_UNSUPPORTED_ATTRIBUTE', () => {
    const mad = encodeCmMad({
      tid: 1n,
      message: { kind: 'RTU', localCommId: 1, remoteCommId: 2, privateData: Buffer.alloc(0) },
    });
    const mutate = (at: number, value: number): Buffer => {
      const copy = Buffer.from(mad);
      copy[at] = value;
      return copy;
    };
    expect(() => decodeCmMad(mad.subarray(0, 255))).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_MAD' }));
    expect(() => decodeCmMad(Buffer.concat([mad, Buffer.alloc(1)]))).toThrow(
      expect.objectContaining({ code: 'ERR_CM_BAD_MAD' }),
    );
    expect(() => decodeCmMad(mutate(0, 2))).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_MAD' })); // base version
    expect(() => decodeCmMad(mutate(1, 0x04))).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_MAD' })); // class: SA, not CM
    expect(() => decodeCmMad(mutate(2, 1))).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_MAD' })); // class version
    expect(() => decodeCmMad(mutate(3, 0x81))).toThrow(expect.objectContaining({ code: 'ERR_CM_BAD_MAD' })); // method GetResp
    for (const id of [CmAttributeId.ClassPortInfo, CmAttributeId.LAP, CmAttributeId.APR, 0x0000, 0xffff]) {
      const copy = Buffer.from(mad);
      copy.writeUInt16BE(id, 16);
      expect(() => decodeCmMad(copy)).toThrow(expect.objectContaining({ code: 'ERR_CM_UNSUPPORTED_ATTRIBUTE' }));
    }
  });

  it('throws only RoceError on hostile MADs, and what decodes re-encodes to itself', () => {
    const header = Buffer.from('01070203', 'hex');
    fc.assert(
      fc.property(
        arbBytes(256),
        fc.constantFrom(...Object.values(CmAttributeId)),
        fc.boolean(),
        (bytes, attributeId, plausible) => {
          // Half the cases get a valid CM header so the message decoders see hostile bodies.
          if (plausible) {
            header.copy(bytes, 0);
            bytes.writeUInt16BE(attributeId, 16);
          }
          try {
            const decoded = decodeCmMad(bytes);
            const again = decodeCmMad(
              encodeCmMad({
                tid: decoded.header.tid,
                attributeModifier: decoded.header.attributeModifier,
                message: decoded.message,
              }),
            );
            expect(again.message).toEqual(decoded.message);
          } catch (err) {
            expect(err).toBeInstanceOf(RoceError);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});
