import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Info, NBD_MAX_STRING, REQUEST_HEADER_LENGTH } from '../../nbd/constants.js';
import { NbdDecodeError, NbdEncodeError } from '../../nbd/errors.js';
import {
  decodeClientFlags,
  decodeExportNameReply,
  decodeGreeting,
  decodeInfo,
  decodeInfoRequest,
  decodeOptionHeader,
  decodeOptionReplyHeader,
  decodeRequestHeader,
  decodeServerEntry,
  decodeSimpleReplyHeader,
  encodeClientFlags,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfo,
  encodeInfoRequest,
  encodeOption,
  encodeOptionReply,
  encodeRequestHeader,
  encodeServerEntry,
  encodeSimpleReplyHeader,
  type NbdInfo,
} from '../../nbd/wire.js';

const RUNS = { numRuns: 200 };
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
/** Strings NBD can carry: well-formed, no NUL, short enough. */
const nbdString = fc
  .string({ unit: 'grapheme', maxLength: 40 })
  .map((s) => s.replaceAll('\0', ''))
  .filter((s) => Buffer.byteLength(s) <= NBD_MAX_STRING);

const info: fc.Arbitrary<NbdInfo> = fc.oneof(
  fc.record({ type: fc.constant('export' as const), size: u64, flags: u16 }),
  fc.record({ type: fc.constant('name' as const), name: nbdString }),
  fc.record({ type: fc.constant('description' as const), description: nbdString }),
  fc.record({ type: fc.constant('block-size' as const), minimum: u32, preferred: u32, maximum: u32 }),
  fc.record({
    type: fc.constant('unknown' as const),
    code: fc.integer({ min: 4, max: 0xffff }),
    data: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
  }),
);

/** Runs a decoder on hostile bytes: it may return or throw NbdDecodeError, nothing else. */
function onlyTypedErrors(decode: (bytes: Buffer) => unknown): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      try {
        decode(Buffer.from(bytes));
      } catch (err) {
        expect(err).toBeInstanceOf(NbdDecodeError);
      }
    }),
    { numRuns: 300 },
  );
}

describe('NBD wire codecs round-trip', () => {
  it('greeting and client flags', () => {
    fc.assert(
      fc.property(u16, u32, (flags, clientFlags) => {
        expect(decodeGreeting(encodeGreeting(flags))).toBe(flags);
        expect(decodeClientFlags(encodeClientFlags(clientFlags))).toBe(clientFlags);
      }),
      RUNS,
    );
  });

  it('option headers keep code and data length', () => {
    fc.assert(
      fc.property(u32, fc.uint8Array({ maxLength: 64 }), (option, data) => {
        const bytes = encodeOption(option, Buffer.from(data));
        expect(decodeOptionHeader(bytes.subarray(0, 16))).toEqual({ option, length: data.length });
        expect(bytes.subarray(16)).toEqual(Buffer.from(data));
      }),
      RUNS,
    );
  });

  it('NBD_OPT_INFO/GO data', () => {
    fc.assert(
      fc.property(nbdString, fc.array(u16, { maxLength: 8 }), (name, requests) => {
        expect(decodeInfoRequest(encodeInfoRequest({ name, requests }))).toEqual({ name, requests });
      }),
      RUNS,
    );
  });

  it('option reply headers and NBD_REP_SERVER entries', () => {
    fc.assert(
      fc.property(u32, u32, nbdString, nbdString, (option, type, name, description) => {
        const data = encodeServerEntry({ name, description });
        const bytes = encodeOptionReply(option, type, data);
        expect(decodeOptionReplyHeader(bytes.subarray(0, 20))).toEqual({ option, type, length: data.length });
        expect(decodeServerEntry(bytes.subarray(20))).toEqual({ name, description });
      }),
      RUNS,
    );
  });

  it('NBD_REP_INFO payloads', () => {
    fc.assert(
      fc.property(info, (value) => {
        expect(decodeInfo(encodeInfo(value))).toEqual(value);
      }),
      RUNS,
    );
  });

  it('export name replies, with and without the 124 zeroes', () => {
    fc.assert(
      fc.property(u64, u16, fc.boolean(), (size, flags, noZeroes) => {
        const bytes = encodeExportNameReply({ size, flags }, noZeroes);
        expect(bytes.length).toBe(noZeroes ? 10 : 134);
        expect(decodeExportNameReply(bytes)).toEqual({ size, flags });
      }),
      RUNS,
    );
  });

  it('request headers and simple reply headers', () => {
    fc.assert(
      fc.property(u16, u16, u64, u64, u32, u32, (flags, type, handle, offset, length, error) => {
        const header = { flags, type, handle, offset, length };
        expect(decodeRequestHeader(encodeRequestHeader(header))).toEqual(header);
        expect(decodeSimpleReplyHeader(encodeSimpleReplyHeader({ error, handle }))).toEqual({ error, handle });
      }),
      RUNS,
    );
  });

  it('lays out a request exactly as proto.md says', () => {
    const bytes = encodeRequestHeader({ flags: 1, type: 1, handle: 0x0102030405060708n, offset: 4096n, length: 512 });
    expect(bytes.toString('hex')).toBe(
      '25609513' + '0001' + '0001' + '0102030405060708' + '0000000000001000' + '00000200',
    );
    expect(encodeGreeting(3).toString('hex')).toBe('4e42444d41474943' + '49484156454f5054' + '0003');
  });
});

describe('NBD wire decoders on hostile bytes', () => {
  it('throw only NbdDecodeError', () => {
    for (const decode of [
      decodeGreeting,
      decodeClientFlags,
      decodeOptionHeader,
      decodeInfoRequest,
      decodeOptionReplyHeader,
      decodeServerEntry,
      decodeInfo,
      decodeExportNameReply,
      decodeRequestHeader,
      decodeSimpleReplyHeader,
    ]) {
      onlyTypedErrors(decode);
    }
  });

  it('throw only NbdDecodeError on mutated valid INFO/GO data', () => {
    fc.assert(
      fc.property(
        nbdString,
        fc.array(u16, { maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (name, requests, flips) => {
          const bytes = encodeInfoRequest({ name, requests });
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          try {
            const decoded = decodeInfoRequest(bytes);
            expect(encodeInfoRequest(decoded)).toEqual(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(NbdDecodeError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('bounds the export name by the option length, not by what the client claims', () => {
    const data = Buffer.alloc(10);
    data.writeUInt32BE(0xffff_fff0, 0);
    expect(() => decodeInfoRequest(data)).toThrow(expect.objectContaining({ code: 'ERR_NBD_LENGTH' }) as Error);
    const trailing = Buffer.concat([encodeInfoRequest({ name: 'a', requests: [Info.NAME] }), Buffer.alloc(1)]);
    expect(() => decodeInfoRequest(trailing)).toThrow(expect.objectContaining({ code: 'ERR_NBD_LENGTH' }) as Error);
  });

  it('refuses NUL, invalid UTF-8 and over-long strings', () => {
    const withNul = Buffer.from([0, 0, 0, 2, 0x61, 0x00, 0, 0]);
    expect(() => decodeInfoRequest(withNul)).toThrow(expect.objectContaining({ code: 'ERR_NBD_STRING' }) as Error);
    const badUtf8 = Buffer.from([0, 0, 0, 1, 0xff, 0, 0]);
    expect(() => decodeInfoRequest(badUtf8)).toThrow(expect.objectContaining({ code: 'ERR_NBD_STRING' }) as Error);
    const long = Buffer.alloc(4 + 4097 + 2);
    long.writeUInt32BE(4097, 0);
    long.fill(0x61, 4, 4 + 4097);
    expect(() => decodeInfoRequest(long)).toThrow(expect.objectContaining({ code: 'ERR_NBD_STRING' }) as Error);
  });

  it('rejects a wrong request magic as a lost stream', () => {
    const bytes = Buffer.alloc(REQUEST_HEADER_LENGTH);
    expect(() => decodeRequestHeader(bytes)).toThrow(expect.objectContaining({ code: 'ERR_NBD_MAGIC' }) as Error);
  });
});

describe('NBD wire encoders', () => {
  it('refuse values that do not fit', () => {
    expect(() => encodeInfoRequest({ name: 'a\0b', requests: [] })).toThrow(NbdEncodeError);
    expect(() => encodeInfoRequest({ name: '\uD800', requests: [] })).toThrow(NbdEncodeError);
    expect(() => encodeInfoRequest({ name: 'x'.repeat(4097), requests: [] })).toThrow(NbdEncodeError);
    expect(() => encodeRequestHeader({ flags: 0x10000, type: 0, handle: 0n, offset: 0n, length: 0 })).toThrow(
      NbdEncodeError,
    );
    expect(() => encodeExportNameReply({ size: 1n << 64n, flags: 0 }, true)).toThrow(NbdEncodeError);
    expect(() => encodeInfo({ type: 'unknown', code: Info.NAME, data: Buffer.alloc(0) })).toThrow(NbdEncodeError);
  });
});
