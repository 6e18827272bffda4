import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BHS_LENGTH,
  decodeHeader,
  decodePdu,
  encodeHeader,
  encodePdu,
  MAX_DATA_SEGMENT_LENGTH,
  Opcode,
  PDU_KINDS,
  PduDecodeError,
  PduFramer,
  RejectReason,
  type DigestOptions,
  type Pdu,
} from '../../../protocol/pdu/index.js';
import { arbPdu, arbPduOfKind, normalizePdu } from '../../support/arbitraries/pdu.js';
import { decodeFramed } from '../../support/pdu-stream.js';

const DIGEST_SETTINGS: readonly DigestOptions[] = [
  { headerDigest: false, dataDigest: false },
  { headerDigest: true, dataDigest: false },
  { headerDigest: false, dataDigest: true },
  { headerDigest: true, dataDigest: true },
];

/** Encodes for a byte stream, frames and decodes. */
function roundTrip(pdu: Pdu, digests: DigestOptions): Pdu[] {
  const framer = new PduFramer({ ...digests, maxDataSegmentLength: MAX_DATA_SEGMENT_LENGTH });
  return decodeFramed(framer.push(Buffer.concat(encodePdu(pdu, digests))));
}

/** Only a PduDecodeError may escape `fn`. */
function onlyDecodeErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof PduDecodeError)) throw err;
  }
}

describe('decode(encode(pdu)) for every kind', () => {
  describe.each(PDU_KINDS)('%s', (kind) => {
    it.each(DIGEST_SETTINGS)('round-trips through a byte stream with digests %o', (digests) => {
      fc.assert(
        fc.property(arbPduOfKind(kind), (pdu) => {
          expect(roundTrip(pdu, digests)).toEqual([normalizePdu(pdu)]);
        }),
        { numRuns: 60 },
      );
    });

    it('round-trips through encodeHeader + data (the iSER form)', () => {
      fc.assert(
        fc.property(arbPduOfKind(kind), (pdu) => {
          const data = 'data' in pdu ? pdu.data : [];
          expect(normalizePdu(decodePdu(encodeHeader(pdu), data))).toEqual(normalizePdu(pdu));
        }),
        { numRuns: 60 },
      );
    });
  });
});

describe('decoded data', () => {
  it('is a view of the input, not a copy', () => {
    const payload = Buffer.from('ping data!');
    const pdu: Pdu = {
      kind: 'nop-out',
      immediate: true,
      lun: 0n,
      itt: 1,
      ttt: 0xffffffff,
      cmdSN: 1,
      expStatSN: 1,
      data: [payload],
    };
    const decoded = decodePdu(encodeHeader(pdu), [payload]);
    expect('data' in decoded && decoded.data[0]?.buffer).toBe(payload.buffer);
  });
});

describe('reserved fields', () => {
  it('are ignored on decode (here: every reserved byte of a NOP-Out set to 0xff, and bit 7 of byte 0)', () => {
    const pdu: Pdu = { kind: 'nop-out', immediate: false, lun: 5n, itt: 7, ttt: 9, cmdSN: 11, expStatSN: 13, data: [] };
    const header = encodeHeader(pdu);
    header[0] = (header[0] ?? 0) | 0x80;
    header[1] = 0xff;
    header[2] = 0xff;
    header[3] = 0xff;
    header.fill(0xff, 32, 48);
    expect(decodePdu(header)).toEqual(pdu);
  });
});

describe('malformed headers', () => {
  const nop: Pdu = { kind: 'nop-in', lun: 0n, itt: 1, ttt: 2, statSN: 3, expCmdSN: 4, maxCmdSN: 5, data: [] };

  function expectCode(fn: () => unknown, code: string): PduDecodeError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(PduDecodeError);
      expect((err as PduDecodeError).code).toBe(code);
      return err as PduDecodeError;
    }
    throw new Error(`expected ${code}`);
  }

  it('rejects fewer than 48 bytes', () => {
    expectCode(() => decodeHeader(Buffer.alloc(47)), 'ERR_PDU_TRUNCATED');
  });

  it('rejects a header whose length disagrees with TotalAHSLength', () => {
    const header = encodeHeader(nop);
    expectCode(() => decodeHeader(Buffer.concat([header, Buffer.alloc(4)])), 'ERR_PDU_LENGTH');
    header[4] = 1;
    expectCode(() => decodeHeader(header), 'ERR_PDU_TRUNCATED');
  });

  it('rejects opcodes RFC 7143 does not define, with reason Command not supported', () => {
    for (const opcode of [0x07, 0x1c, 0x3c, 0x30]) {
      const header = encodeHeader(nop);
      header[0] = opcode;
      const err = expectCode(() => decodeHeader(header), 'ERR_PDU_OPCODE');
      expect(err.rejectReason).toBe(RejectReason.CommandNotSupported);
      expect(err.header).toEqual(header);
    }
  });

  it('rejects a data segment on kinds that never carry one', () => {
    const r2t: Pdu = {
      kind: 'r2t',
      lun: 0n,
      itt: 1,
      ttt: 2,
      statSN: 3,
      expCmdSN: 4,
      maxCmdSN: 5,
      r2tSN: 0,
      bufferOffset: 0,
      desiredDataTransferLength: 512,
    };
    const header = encodeHeader(r2t);
    header.writeUIntBE(4, 5, 3);
    expectCode(() => decodeHeader(header), 'ERR_PDU_UNEXPECTED_DATA');
  });

  it('rejects an AHS on kinds other than SCSI Command', () => {
    const header = Buffer.concat([encodeHeader(nop), Buffer.from([0, 1, 1, 0])]);
    header[4] = 1;
    expectCode(() => decodeHeader(header), 'ERR_PDU_AHS');
  });

  it('rejects data that does not add up to DataSegmentLength', () => {
    const withData: Pdu = { ...nop, data: [Buffer.from('abcdef')] };
    expectCode(() => decodePdu(encodeHeader(withData), [Buffer.from('abc')]), 'ERR_PDU_LENGTH');
    expectCode(() => decodePdu(encodeHeader(withData)), 'ERR_PDU_LENGTH');
  });

  it('names the opcode constants of every kind (sanity: the table covers all 18 opcodes)', () => {
    expect(new Set(PDU_KINDS).size).toBe(18);
    expect(Object.keys(Opcode)).toHaveLength(18);
  });
});

describe('hostile bytes', () => {
  it('random headers with a consistent TotalAHSLength only ever throw PduDecodeError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: BHS_LENGTH, maxLength: BHS_LENGTH }),
        fc.integer({ min: 0, max: 8 }),
        fc.uint8Array({ maxLength: 32 }),
        fc.constantFrom(...Object.values(Opcode)),
        fc.boolean(),
        (bhsBytes, words, ahsBytes, opcode, forceOpcode) => {
          const bhs = Buffer.from(bhsBytes);
          if (forceOpcode) bhs[0] = ((bhs[0] ?? 0) & 0xc0) | opcode;
          bhs[4] = words;
          const ahs = Buffer.alloc(words * 4);
          Buffer.from(ahsBytes).copy(ahs);
          const header = Buffer.concat([bhs, ahs]);
          onlyDecodeErrors(() => decodeHeader(header));
          const dsl = header.readUIntBE(5, 3) % 64;
          header.writeUIntBE(dsl, 5, 3);
          onlyDecodeErrors(() => decodePdu(header, [Buffer.alloc(dsl)]));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random byte streams through the framer only ever throw PduDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.boolean(), (bytes, headerDigest, dataDigest) => {
        const framer = new PduFramer({ headerDigest, dataDigest, maxDataSegmentLength: 512 });
        onlyDecodeErrors(() => {
          for (const f of framer.push(Buffer.from(bytes)))
            if (f.type === 'pdu') onlyDecodeErrors(() => decodePdu(f.header, f.data));
        });
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid encodings only ever throw PduDecodeError, and what decodes re-encodes to itself', () => {
    fc.assert(
      fc.property(
        arbPdu({ maxDataLength: 64 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (pdu, mutations) => {
          const bytes = Buffer.concat(encodePdu(pdu));
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          const framer = new PduFramer({ maxDataSegmentLength: 4096 });
          onlyDecodeErrors(() => {
            for (const f of framer.push(bytes)) {
              if (f.type !== 'pdu') continue;
              let decoded: Pdu | undefined;
              onlyDecodeErrors(() => (decoded = decodePdu(f.header, f.data)));
              if (decoded === undefined) continue;
              // Canonical form: decoding our own encoding of what we decoded gives it back.
              const again = decodePdu(encodeHeader(decoded), 'data' in decoded ? decoded.data : []);
              expect(normalizePdu(again)).toEqual(normalizePdu(decoded));
            }
          });
        },
      ),
      { numRuns: 1000 },
    );
  });
});
