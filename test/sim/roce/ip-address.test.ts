import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIp, gidFromIp, ipv4Bytes, ipv6Bytes, isIpv4MappedGid } from '../../../sim/roce/ip-address.js';
import { arbBytes } from '../../support/arbitraries/roce.js';

describe('IP addresses and GIDs', () => {
  it('maps IPv4 into a RoCEv2 GID as ::ffff:a.b.c.d', () => {
    const gid = gidFromIp('192.168.1.2', 4);
    expect(gid.toString('hex')).toBe('00000000000000000000ffffc0a80102');
    expect(isIpv4MappedGid(gid)).toBe(true);
    expect(formatIp(gid)).toBe('192.168.1.2');
    expect(gidFromIp('fe80::1', 6).toString('hex')).toBe('fe800000000000000000000000000001');
  });

  it('parses and formats IPv6 text (RFC 5952 compression)', () => {
    expect(formatIp(ipv6Bytes('2001:db8::1'))).toBe('2001:db8::1');
    expect(formatIp(ipv6Bytes('::'))).toBe('::');
    expect(formatIp(ipv6Bytes('1:0:0:2:0:0:0:3'))).toBe('1:0:0:2::3');
    expect(formatIp(ipv6Bytes('1:2:3:4:5:6:7:8'))).toBe('1:2:3:4:5:6:7:8');
    expect(ipv6Bytes('::ffff:10.1.2.3').toString('hex')).toBe('00000000000000000000ffff0a010203');
    fc.assert(
      fc.property(arbBytes(16), (bytes) => {
        expect(ipv6Bytes(formatIp(bytes))).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        expect(ipv6Bytes(formatIp(ipv6Bytes(text)))).toEqual(ipv6Bytes(text));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects malformed addresses with ERR_ROCE_BAD_IP', () => {
    for (const text of ['1.2.3', '1.2.3.256', 'a.b.c.d', '', '1.2.3.4.5'])
      expect(() => ipv4Bytes(text)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    for (const text of ['1::2::3', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4:5:6:7', ':::']) {
      expect(() => ipv6Bytes(text)).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    }
    expect(() => ipv4Bytes(Buffer.alloc(5))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    expect(() => formatIp(Buffer.alloc(5))).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
  });
});
