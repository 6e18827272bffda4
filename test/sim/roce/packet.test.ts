import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RoceError } from '../../../sim/roce/errors.js';
import { ALL_OPCODES, RoceOpcode } from '../../../sim/roce/opcodes.js';
import { decodeRocePacket, encodeRocePacket, headerLength, padFor, type RocePacket } from '../../../sim/roce/packet.js';
import { arbBytesBetween, arbPacketFor, arbRocePacket } from '../../support/arbitraries/roce.js';

const bth = {
  solicited: false,
  migReq: false,
  padCount: 0,
  tver: 0,
  pkey: 0xffff,
  fecn: false,
  becn: false,
  destQp: 0x11,
  ackReq: true,
  psn: 100,
};

/** Decoding hostile bytes may fail, but only with RoceError. */
function decodeOrTypedError(bytes: Buffer): RocePacket | undefined {
  try {
    return decodeRocePacket(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(RoceError);
    return undefined;
  }
}

describe('RoCE packets', () => {
  it.each(ALL_OPCODES.map((o) => [o.name, o] as const))('%s round-trips with its header composition', (_name, info) => {
    fc.assert(
      fc.property(arbPacketFor(info), (pkt) => {
        const bytes = encodeRocePacket(pkt);
        const pad = padFor(pkt.payload.length);
        expect(bytes.length).toBe(headerLength(info) + pkt.payload.length + pad);
        expect(bytes.length % 4).toBe(0);
        expect(bytes[0]).toBe(info.code);
        expect(((bytes[1] ?? 0) >> 4) & 3).toBe(pad);
        expect(bytes.subarray(bytes.length - pad).every((b) => b === 0)).toBe(true);
        expect(decodeRocePacket(bytes)).toEqual(pkt);
      }),
      { numRuns: 40 },
    );
  });

  it('lays out a WRITE_ONLY with RETH and 3 pad bytes', () => {
    const bytes = encodeRocePacket({
      bth: { ...bth, opcode: RoceOpcode.RC_RDMA_WRITE_ONLY },
      reth: { va: 0x1000n, rkey: 0xabcd, length: 13 },
      payload: Buffer.from('thirteen byte'),
    });
    expect(bytes.length).toBe(12 + 16 + 13 + 3);
    expect(bytes.subarray(0, 12).toString('hex')).toBe('0a30ffff00000011' + '80000064');
    expect(bytes.subarray(12, 28).toString('hex')).toBe('0000000000001000' + '0000abcd' + '0000000d');
    expect(bytes.subarray(28, 41).toString()).toBe('thirteen byte');
    expect(bytes.subarray(41).toString('hex')).toBe('000000');
  });

  it('lays out an RNR NAK and a UD SEND_ONLY with DETH', () => {
    const rnr = encodeRocePacket({
      bth: { ...bth, opcode: RoceOpcode.RC_ACKNOWLEDGE, ackReq: false },
      aeth: { syndrome: { kind: 'rnr-nak', timer: 14 }, msn: 7 },
      payload: Buffer.alloc(0),
    });
    expect(rnr.toString('hex')).toBe('1100ffff00000011' + '00000064' + '2e000007');
    const ud = encodeRocePacket({
      bth: { ...bth, opcode: RoceOpcode.UD_SEND_ONLY, destQp: 1, ackReq: false },
      deth: { qkey: 0x80010000, srcQp: 1 },
      payload: Buffer.alloc(256, 0xaa),
    });
    expect(ud.subarray(12, 20).toString('hex')).toBe('8001000000000001');
    expect(ud.length).toBe(12 + 8 + 256);
  });

  it('derives PadCnt from the payload whatever the caller put in the BTH', () => {
    const bytes = encodeRocePacket({
      bth: { ...bth, opcode: RoceOpcode.RC_SEND_ONLY, padCount: 0 },
      payload: Buffer.from('a'),
    });
    expect(decodeRocePacket(bytes).bth.padCount).toBe(3);
  });

  it('refuses to encode headers the opcode does not carry, or misses one it needs', () => {
    expect(() =>
      encodeRocePacket({
        bth: { ...bth, opcode: RoceOpcode.RC_SEND_ONLY },
        reth: { va: 0n, rkey: 0, length: 0 },
        payload: Buffer.alloc(0),
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
    expect(() =>
      encodeRocePacket({ bth: { ...bth, opcode: RoceOpcode.RC_RDMA_READ_REQUEST }, payload: Buffer.alloc(0) }),
    ).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
    expect(() => encodeRocePacket({ bth: { ...bth, opcode: 0x81 }, payload: Buffer.alloc(0) })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_UNKNOWN_OPCODE' }),
    );
    expect(() =>
      encodeRocePacket({
        bth: { ...bth, opcode: RoceOpcode.RC_ACKNOWLEDGE },
        aeth: { syndrome: { kind: 'ack', credits: 31 }, msn: 0 },
        payload: Buffer.alloc(1),
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_PAYLOAD_LENGTH' }));
    expect(() =>
      encodeRocePacket({
        bth: { ...bth, opcode: RoceOpcode.RC_ATOMIC_WRITE },
        reth: { va: 0n, rkey: 0, length: 8 },
        payload: Buffer.alloc(4),
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_PAYLOAD_LENGTH' }));
  });

  it('rejects malformed bytes with the right code', () => {
    const ack = encodeRocePacket({
      bth: { ...bth, opcode: RoceOpcode.RC_ACKNOWLEDGE },
      aeth: { syndrome: { kind: 'ack', credits: 31 }, msn: 0 },
      payload: Buffer.alloc(0),
    });
    expect(() => decodeRocePacket(ack.subarray(0, 15))).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }),
    );
    expect(() => decodeRocePacket(Buffer.concat([ack, Buffer.alloc(4)]))).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_BAD_PAYLOAD_LENGTH' }),
    );
    const badAeth = Buffer.from(ack);
    badAeth[12] = 0x40;
    expect(() => decodeRocePacket(badAeth)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_AETH' }));
    const unknown = Buffer.from(ack);
    unknown[0] = 0x81;
    expect(() => decodeRocePacket(unknown)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_UNKNOWN_OPCODE' }));
    const send = encodeRocePacket({ bth: { ...bth, opcode: RoceOpcode.RC_SEND_ONLY }, payload: Buffer.from('ab') });
    expect(() => decodeRocePacket(send.subarray(0, send.length - 1))).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_BAD_PAD' }),
    );
    const noPayloadButPad = Buffer.from(ack);
    noPayloadButPad[1] = 0x10;
    expect(() => decodeRocePacket(noPayloadButPad)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_PAD' }));
    expect(() => decodeRocePacket(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }));
  });

  it('decodes the payload as a view, without copying', () => {
    const bytes = encodeRocePacket({ bth: { ...bth, opcode: RoceOpcode.RC_SEND_ONLY }, payload: Buffer.from('abcd') });
    const pkt = decodeRocePacket(bytes);
    expect(pkt.payload.buffer).toBe(bytes.buffer);
  });

  it('throws only RoceError on random bytes', () => {
    fc.assert(
      fc.property(arbBytesBetween(0, 96), (bytes) => {
        decodeOrTypedError(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('throws only RoceError on truncated or mutated packets; what decodes re-encodes to the same packet', () => {
    fc.assert(
      fc.property(
        arbRocePacket(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        (pkt, flips, cut) => {
          const bytes = Buffer.from(encodeRocePacket(pkt));
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          const truncated = bytes.subarray(0, cut % (bytes.length + 1));
          for (const candidate of [bytes, truncated]) {
            const decoded = decodeOrTypedError(candidate);
            if (decoded !== undefined) expect(decodeRocePacket(encodeRocePacket(decoded))).toEqual(decoded);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('fails on every cut into the headers', () => {
    for (const info of ALL_OPCODES) {
      const pkt = fc.sample(arbPacketFor(info), { numRuns: 1, seed: info.code })[0]!;
      const bytes = encodeRocePacket(pkt);
      for (let n = 0; n < headerLength(info); n++) {
        expect(() => decodeRocePacket(bytes.subarray(0, n))).toThrow(
          expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }),
        );
      }
    }
  });
});
