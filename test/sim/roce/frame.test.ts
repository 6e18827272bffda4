import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RoceError } from '../../../sim/roce/errors.js';
import {
  decodeRoceIpDatagram,
  decodeRoceUdpPayload,
  encodeRoceIpDatagram,
  encodeRoceUdpPayload,
  ipUdpHeaders,
  ROCE_V2_UDP_PORT,
  verifyRoceUdpPayload,
  type IcrcMode,
  type RoceUdpAddressing,
} from '../../../sim/roce/frame.js';
import { RoceOpcode } from '../../../sim/roce/opcodes.js';
import type { RocePacket } from '../../../sim/roce/packet.js';
import { arbBytesBetween, arbRocePacket } from '../../support/arbitraries/roce.js';

const v4: RoceUdpAddressing = { ip: { version: 4, src: '192.168.0.1', dst: '192.168.0.2' }, srcPort: 0xc001 };
const v6: RoceUdpAddressing = {
  ip: { version: 6, src: 'fd00::1', dst: 'fd00::2', flowLabel: 0x12345 },
  srcPort: 0xc002,
};

const send: RocePacket = {
  bth: {
    opcode: RoceOpcode.RC_SEND_ONLY,
    solicited: true,
    migReq: false,
    padCount: 2,
    tver: 0,
    pkey: 0xffff,
    fecn: false,
    becn: false,
    destQp: 0x42,
    ackReq: true,
    psn: 0xfffffe,
  },
  payload: Buffer.from('iSER!!'),
};

describe('RoCEv2 frame helper', () => {
  it('builds IPv4 and IPv6 headers as rxe sends them', () => {
    const { ip, udp } = ipUdpHeaders(v4, 100);
    expect(ip.toString('hex')).toBe('4500' + '0080' + '0000' + '4000' + '4011' + 'b919' + 'c0a80001' + 'c0a80002');
    expect(udp.toString('hex')).toBe('c001' + '12b7' + '006c' + '0000');
    const six = ipUdpHeaders(v6, 100).ip;
    expect(six.subarray(0, 8).toString('hex')).toBe('60012345' + '006c' + '1140');
    expect(ROCE_V2_UDP_PORT).toBe(0x12b7);
    // roce-rxe.md §3.1: sport 0xc0a1, 4791, length 320 (BTH 12 + iSER 28 + BHS 48 + 220 data + ICRC 4), checksum 0.
    expect(ipUdpHeaders({ ...v4, srcPort: 0xc0a1 }, 12 + 28 + 48 + 220 + 4).udp.toString('hex')).toBe(
      'c0a112b701400000',
    );
  });

  it('round-trips through the UDP payload in every mode, over IPv4 and IPv6', () => {
    fc.assert(
      fc.property(arbRocePacket({ maxPayload: 64 }), fc.constantFrom(v4, v6), (pkt, addressing) => {
        const strict = encodeRoceUdpPayload(pkt, addressing, 'strict');
        expect(verifyRoceUdpPayload(strict, addressing)).toBe(true);
        expect(decodeRoceUdpPayload(strict, addressing, 'strict')).toEqual(pkt);
        expect(encodeRoceUdpPayload(pkt, addressing, 'tx-only')).toEqual(strict);
        const off = encodeRoceUdpPayload(pkt, addressing, 'off');
        expect(off.subarray(off.length - 4).toString('hex')).toBe('00000000');
        expect(decodeRoceUdpPayload(off, addressing, 'off')).toEqual(pkt);
        const datagram = encodeRoceIpDatagram(pkt, addressing);
        const received = decodeRoceIpDatagram(datagram);
        expect(received.packet).toEqual(pkt);
        expect(received.icrcOk).toBe(true);
        expect(received.addressing.srcPort).toBe(addressing.srcPort);
        expect(received.addressing.dstPort).toBe(ROCE_V2_UDP_PORT);
      }),
      { numRuns: 200 },
    );
  });

  it('catches any one-bit corruption in strict mode and lets it through in tx-only mode', () => {
    const good = encodeRoceUdpPayload(send, v4);
    for (let bit = 0; bit < good.length * 8; bit++) {
      // Bits the ICRC masks (FECN/BECN/resv6a in BTH byte 4) do not count as corruption.
      if (bit >> 3 === 4) continue;
      const bad = Buffer.from(good);
      bad[bit >> 3] = (bad[bit >> 3] ?? 0) ^ (0x80 >> (bit & 7));
      expect(verifyRoceUdpPayload(bad, v4)).toBe(false);
      expect(() => decodeRoceUdpPayload(bad, v4, 'strict')).toThrow(RoceError);
    }
    const flipped = Buffer.from(good);
    flipped[17] = (flipped[17] ?? 0) ^ 1; // the last payload byte
    expect(() => decodeRoceUdpPayload(flipped, v4, 'strict')).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_ICRC_MISMATCH' }),
    );
    expect(decodeRoceUdpPayload(flipped, v4, 'tx-only').payload.toString()).not.toBe('iSER!!');
  });

  it('checks a captured datagram against its own IPv4 ID', () => {
    const withId: RoceUdpAddressing = { ...v4, ip: { version: 4, src: '192.168.0.1', dst: '192.168.0.2', id: 0x6e24 } };
    const datagram = encodeRoceIpDatagram(send, withId);
    const received = decodeRoceIpDatagram(datagram);
    expect(received.icrcOk).toBe(true);
    expect(received.addressing.ip).toMatchObject({ version: 4, id: 0x6e24, df: true, src: '192.168.0.1' });
    // The same payload checked as if sent with ID 0 fails: the kernel's ID matters (roce-rxe.md §3.9).
    expect(verifyRoceUdpPayload(datagram.subarray(28), v4)).toBe(false);
    const mangled = Buffer.from(datagram);
    mangled[5] = 0x25;
    expect(decodeRoceIpDatagram(mangled, 'tx-only').icrcOk).toBe(false);
    expect(() => decodeRoceIpDatagram(mangled)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_ICRC_MISMATCH' }));
  });

  it('rejects datagrams it cannot take apart with ERR_ROCE_BAD_IP or ERR_ROCE_TRUNCATED', () => {
    const datagram = encodeRoceIpDatagram(send, v4);
    const fragment = Buffer.from(datagram);
    fragment[7] = 1;
    expect(() => decodeRoceIpDatagram(fragment)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    expect(() => decodeRoceIpDatagram(datagram.subarray(0, datagram.length - 1))).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }),
    );
    const tcp = Buffer.from(datagram);
    tcp[9] = 6;
    expect(() => decodeRoceIpDatagram(tcp)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    expect(() => decodeRoceIpDatagram(Buffer.from([0x50, 0, 0]))).toThrow(RoceError);
    expect(() => decodeRoceUdpPayload(Buffer.alloc(3), v4)).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }),
    );
    expect(() => encodeRoceUdpPayload(send, { ...v4, srcPort: 70000 })).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }),
    );
  });

  it('throws only RoceError on hostile datagrams', () => {
    const good = encodeRoceIpDatagram(send, v6);
    fc.assert(
      fc.property(
        fc.oneof(
          arbBytesBetween(0, 120),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }).map((flips) => {
            const bytes = Buffer.from(good);
            for (const [at, v] of flips) bytes[at % bytes.length] = v;
            return bytes;
          }),
        ),
        fc.constantFrom<IcrcMode>('strict', 'tx-only', 'off'),
        (bytes, mode) => {
          try {
            decodeRoceIpDatagram(bytes, mode);
          } catch (err) {
            expect(err).toBeInstanceOf(RoceError);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});
