import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../../sim/roce/crc32.js';
import { computeIcrc, maskIpHeader, readIcrc, writeIcrc } from '../../../sim/roce/icrc.js';
import {
  decodeRoceIpDatagram,
  encodeRoceIpDatagram,
  ipUdpHeaders,
  type RoceUdpAddressing,
} from '../../../sim/roce/frame.js';
import { encodeRocePacket } from '../../../sim/roce/packet.js';
import { arbRocePacket, arbUint } from '../../support/arbitraries/roce.js';

// An RC SEND_ONLY "hello world\0" (pad 1), DestQP 0x12, AckReq, PSN 0x0a0b0c, 127.0.0.1:0xc0a1 → 127.0.0.2:4791,
// IPv4 ID 0, DF, TTL 64, UDP checksum 0. Its ICRC b45a784a was confirmed with scapy 2.5.0 BTH.compute_icrc.
const GOLDEN =
  '450000380000400040113cb27f0000017f000002' +
  'c0a112b700240000' +
  '0410ffff00000012800a0b0c' +
  '68656c6c6f20776f726c6400' +
  'b45a784a';

/** The ICRC built by hand from the wire headers: a second, independent construction of rxe's masking. */
function icrcByHand(ip: Buffer, udp: Buffer, transport: Buffer): number {
  const m = Buffer.concat([Buffer.alloc(8, 0xff), ip, udp, transport]);
  const ipAt = 8;
  const udpAt = ipAt + ip.length;
  if (ip.length === 20) {
    m[ipAt + 1] = 0xff;
    m[ipAt + 8] = 0xff;
    m[ipAt + 10] = 0xff;
    m[ipAt + 11] = 0xff;
  } else {
    m[ipAt] = (m[ipAt] ?? 0) | 0x0f;
    m[ipAt + 1] = 0xff;
    m[ipAt + 2] = 0xff;
    m[ipAt + 3] = 0xff;
    m[ipAt + 7] = 0xff;
  }
  m[udpAt + 6] = 0xff;
  m[udpAt + 7] = 0xff;
  m[udpAt + 8 + 4] = 0xff;
  return crc32(m);
}

const arbAddressing: fc.Arbitrary<RoceUdpAddressing> = fc.oneof(
  fc.record({
    ip: fc.record({
      version: fc.constant(4 as const),
      src: fc.ipV4(),
      dst: fc.ipV4(),
      id: arbUint(16),
      df: fc.boolean(),
      ttl: arbUint(8),
      tos: arbUint(8),
    }),
    srcPort: arbUint(16),
  }),
  fc.record({
    ip: fc.record({
      version: fc.constant(6 as const),
      src: fc.ipV6(),
      dst: fc.ipV6(),
      hopLimit: arbUint(8),
      trafficClass: arbUint(8),
      flowLabel: arbUint(20),
    }),
    srcPort: arbUint(16),
  }),
);

describe('ICRC', () => {
  it('reproduces a packet whose ICRC scapy confirmed', () => {
    const golden = Buffer.from(GOLDEN, 'hex');
    const transport = golden.subarray(28, golden.length - 4);
    expect(computeIcrc(golden.subarray(0, 20), golden.subarray(20, 28), transport)).toBe(
      readIcrc(golden, golden.length - 4),
    );
    const rebuilt = encodeRoceIpDatagram(
      {
        bth: {
          opcode: 0x04,
          solicited: false,
          migReq: false,
          padCount: 1,
          tver: 0,
          pkey: 0xffff,
          fecn: false,
          becn: false,
          destQp: 0x12,
          ackReq: true,
          psn: 0x0a0b0c,
        },
        payload: Buffer.from('hello world'),
      },
      { ip: { version: 4, src: '127.0.0.1', dst: '127.0.0.2' }, srcPort: 0xc0a1 },
    );
    expect(rebuilt.toString('hex')).toBe(GOLDEN);
    expect(decodeRoceIpDatagram(rebuilt).icrcOk).toBe(true);
  });

  it('matches an independent construction over IPv4 and IPv6, with the variant fields masked', () => {
    fc.assert(
      fc.property(arbRocePacket({ maxPayload: 40 }), arbAddressing, (pkt, addressing) => {
        const transport = encodeRocePacket(pkt);
        const { ip, udp } = ipUdpHeaders(addressing, transport.length + 4);
        const icrc = computeIcrc(ip, udp, transport);
        expect(icrc).toBe(icrcByHand(ip, udp, transport));
        // Variant fields do not change it: TTL/TOS/checksum, flow label/TC/hop limit, UDP checksum, FECN/BECN.
        const ip2 = Buffer.from(ip);
        if (ip.length === 20) {
          ip2[1] = (ip2[1] ?? 0) ^ 0xff;
          ip2[8] = (ip2[8] ?? 0) ^ 0x5a;
          ip2[10] = (ip2[10] ?? 0) ^ 0x01;
        } else {
          ip2[1] = (ip2[1] ?? 0) ^ 0xff;
          ip2[3] = (ip2[3] ?? 0) ^ 0x01;
          ip2[7] = (ip2[7] ?? 0) ^ 0x5a;
        }
        const udp2 = Buffer.from(udp);
        udp2.writeUInt16BE(0x1234, 6);
        const transport2 = Buffer.from(transport);
        transport2[4] = 0xc0;
        expect(computeIcrc(ip2, udp2, transport2)).toBe(icrc);
        // Invariant fields do: the addresses, the PSN.
        const ip3 = Buffer.from(ip);
        ip3[ip.length - 1] = (ip3[ip.length - 1] ?? 0) ^ 1;
        expect(computeIcrc(ip3, udp, transport)).not.toBe(icrc);
        const transport3 = Buffer.from(transport);
        transport3[11] = (transport3[11] ?? 0) ^ 1;
        expect(computeIcrc(ip, udp, transport3)).not.toBe(icrc);
      }),
      { numRuns: 300 },
    );
  });

  it('covers the IPv4 Identification and DF bit (roce-rxe.md §3.9)', () => {
    const transport = Buffer.from('0400ffff00000012800a0b0c', 'hex');
    const base: RoceUdpAddressing = { ip: { version: 4, src: '10.0.0.1', dst: '10.0.0.2' }, srcPort: 50000 };
    const at = (a: RoceUdpAddressing): number => {
      const { ip, udp } = ipUdpHeaders(a, transport.length + 4);
      return computeIcrc(ip, udp, transport);
    };
    expect(at({ ...base, ip: { ...base.ip, version: 4, id: 0x34ec } })).not.toBe(at(base));
    expect(at({ ...base, ip: { ...base.ip, version: 4, df: false } })).not.toBe(at(base));
  });

  it('goes on the wire least-significant byte first', () => {
    const out = Buffer.alloc(4);
    writeIcrc(0xb520c9db, out, 0);
    expect(out.toString('hex')).toBe('dbc920b5'); // tshark shows these bytes as "Invariant CRC: 0xdbc920b5"
    expect(readIcrc(out, 0)).toBe(0xb520c9db);
  });

  it('refuses IP headers it cannot mask', () => {
    expect(() => maskIpHeader(Buffer.alloc(20))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    const withOptions = Buffer.alloc(24);
    withOptions[0] = 0x46;
    expect(() => maskIpHeader(withOptions)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    const v6short = Buffer.alloc(20);
    v6short[0] = 0x60;
    expect(() => maskIpHeader(v6short)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    expect(() => computeIcrc(Buffer.from(GOLDEN, 'hex').subarray(0, 20), Buffer.alloc(7), Buffer.alloc(12))).toThrow(
      expect.objectContaining({ code: 'ERR_ROCE_TRUNCATED' }),
    );
  });
});
