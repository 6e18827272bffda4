/**
 * The one IP address parser of sim/: both layers' wrappers agree with it, and each throws its own error code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as roce from '../../../sim/roce/ip-address.js';
import { ipv4Bytes, ipv6Bytes, parseIpv4, parseIpv6 } from '../../../sim/trace/addresses.js';

describe('parseIpv4 / parseIpv6', () => {
  it('parse text and copy bytes', () => {
    expect(parseIpv4('127.0.0.2')).toEqual(Buffer.from([127, 0, 0, 2]));
    expect(parseIpv6('::ffff:10.0.0.1')?.toString('hex')).toBe('00000000000000000000ffff0a000001');
    const bytes = Buffer.from([10, 0, 0, 1]);
    const copy = parseIpv4(bytes);
    expect(copy).toEqual(bytes);
    expect(copy).not.toBe(bytes);
  });

  it('give undefined for what is not an address', () => {
    for (const text of ['1.2.3', '256.0.0.1', '1.2.3.4.5', 'a.b.c.d', '']) expect(parseIpv4(text)).toBeUndefined();
    for (const text of ['1::2::3', ':::', '1:2:3:4:5:6:7:8:9', 'g::1', '::1.2.3'])
      expect(parseIpv6(text)).toBeUndefined();
    expect(parseIpv4(Buffer.alloc(5))).toBeUndefined();
    expect(parseIpv6(Buffer.alloc(4))).toBeUndefined();
  });

  it('sim/trace throws ERR_TRACE_BAD_ADDRESS and sim/roce ERR_ROCE_BAD_IP for the same input', () => {
    expect(() => ipv4Bytes('1.2.3')).toThrow(expect.objectContaining({ code: 'ERR_TRACE_BAD_ADDRESS' }));
    expect(() => roce.ipv4Bytes('1.2.3')).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
    expect(() => ipv6Bytes('1::2::3')).toThrow(expect.objectContaining({ code: 'ERR_TRACE_BAD_ADDRESS' }));
    expect(() => roce.ipv6Bytes('1::2::3')).toThrow(expect.objectContaining({ code: 'ERR_ROCE_BAD_IP' }));
  });

  it('both layers give the same bytes for any address text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const v4 = !text.includes(':');
        const trace = v4 ? ipv4Bytes(text) : ipv6Bytes(text);
        const viaRoce = v4 ? roce.ipv4Bytes(text) : roce.ipv6Bytes(text);
        expect(viaRoce.equals(trace)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
