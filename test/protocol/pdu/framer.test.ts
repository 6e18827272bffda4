import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BHS_LENGTH,
  decodePdu,
  encodePdu,
  FramerError,
  mayEndLoginPhase,
  PduDecodeError,
  PduEncodeError,
  PduFramer,
  RejectReason,
  type DigestOptions,
  type Pdu,
} from '../../../protocol/pdu/index.js';
import { arbPdu, normalizePdu } from '../../support/arbitraries/pdu.js';
import { decodeFramed, encodeStream, frameWithCuts } from '../../support/pdu-stream.js';

const BOTH: DigestOptions = { headerDigest: true, dataDigest: true };
const NONE: DigestOptions = { headerDigest: false, dataDigest: false };

/** A fixed stream of a few kinds, with and without data, one needing padding, one with an AHS. */
const STREAM: readonly Pdu[] = [
  {
    kind: 'nop-out',
    immediate: true,
    lun: 0n,
    itt: 1,
    ttt: 0xffffffff,
    cmdSN: 1,
    expStatSN: 1,
    data: [Buffer.from('ping')],
  },
  {
    kind: 'scsi-command',
    immediate: false,
    final: true,
    read: false,
    write: true,
    attribute: 1,
    lun: 1n << 48n,
    itt: 2,
    expectedDataTransferLength: 7,
    cmdSN: 2,
    expStatSN: 1,
    cdb: Buffer.alloc(20, 0x2a),
    data: [Buffer.from('abc'), Buffer.from('defg')],
  },
  {
    kind: 'r2t',
    lun: 0n,
    itt: 2,
    ttt: 9,
    statSN: 1,
    expCmdSN: 3,
    maxCmdSN: 10,
    r2tSN: 0,
    bufferOffset: 0,
    desiredDataTransferLength: 7,
  },
  {
    kind: 'text-response',
    final: true,
    continue: false,
    lun: 0n,
    itt: 3,
    ttt: 0xffffffff,
    statSN: 2,
    expCmdSN: 3,
    maxCmdSN: 10,
    data: [Buffer.from('TargetName=iqn.x\0')],
  },
];

describe('PduFramer', () => {
  it.each([NONE, BOTH, { headerDigest: true, dataDigest: false }, { headerDigest: false, dataDigest: true }])(
    'yields the same PDUs for every split point of a multi-PDU stream (digests %o)',
    (digests) => {
      const bytes = encodeStream(STREAM, digests);
      const expected = STREAM.map(normalizePdu);
      for (let cut = 0; cut <= bytes.length; cut++) {
        expect(decodeFramed(frameWithCuts(bytes, [cut], digests)).map(normalizePdu)).toEqual(expected);
      }
    },
  );

  it('yields the same PDUs when fed one byte at a time', () => {
    const bytes = encodeStream(STREAM, BOTH);
    const cuts = Array.from({ length: bytes.length }, (_, i) => i);
    expect(decodeFramed(frameWithCuts(bytes, cuts, BOTH)).map(normalizePdu)).toEqual(STREAM.map(normalizePdu));
  });

  it('yields the same PDUs for random streams cut at random points', () => {
    fc.assert(
      fc.property(
        fc.array(arbPdu({ maxDataLength: 200 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        (pdus, rawCuts, headerDigest, dataDigest) => {
          const digests = { headerDigest, dataDigest };
          const bytes = encodeStream(pdus, digests);
          const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          expect(decodeFramed(frameWithCuts(bytes, cuts, digests)).map(normalizePdu)).toEqual(pdus.map(normalizePdu));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns data as views of the pushed chunks, without copying', () => {
    const bytes = encodeStream([STREAM[0]!], NONE);
    const [framed] = new PduFramer().push(bytes);
    expect(framed?.type).toBe('pdu');
    if (framed?.type !== 'pdu') return;
    expect(framed.data[0]?.buffer).toBe(bytes.buffer);
    expect(framed.data[0]?.toString()).toBe('ping');
  });

  it('holds no more than one partial PDU between pushes', () => {
    const bytes = encodeStream(STREAM, NONE);
    const framer = new PduFramer();
    framer.push(bytes.subarray(0, bytes.length - 1));
    const lastLength = Buffer.concat(encodePdu(STREAM[3]!, NONE)).length;
    expect(framer.bufferedBytes).toBe(lastLength - 1);
    expect(framer.push(bytes.subarray(bytes.length - 1))).toHaveLength(1);
    expect(framer.bufferedBytes).toBe(0);
  });
});

describe('PduFramer digests', () => {
  it('detects a corrupted header digest as a fatal ERR_PDU_HEADER_DIGEST and stays failed', () => {
    const bytes = encodeStream(STREAM, BOTH);
    const firstLength = Buffer.concat(encodePdu(STREAM[0]!, BOTH)).length;
    bytes[firstLength + 20] = (bytes[firstLength + 20] ?? 0) ^ 0x01; // ITT of the second PDU
    const framer = new PduFramer(BOTH);
    let caught: unknown;
    try {
      framer.push(bytes);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FramerError);
    const error = caught as FramerError;
    expect(error.code).toBe('ERR_PDU_HEADER_DIGEST');
    expect(error.rejectReason).toBeUndefined();
    // The PDU before the bad header is not lost.
    expect(decodeFramed(error.framed).map(normalizePdu)).toEqual([normalizePdu(STREAM[0]!)]);
    expect(() => framer.push(Buffer.alloc(1))).toThrow(PduDecodeError);
    try {
      framer.push(Buffer.alloc(1));
    } catch (err) {
      expect((err as PduDecodeError).code).toBe('ERR_PDU_FRAMER_FAILED');
    }
  });

  it('reports a corrupted data digest with the header, then carries on with the next PDU', () => {
    const bytes = encodeStream(STREAM, BOTH);
    const firstLength = Buffer.concat(encodePdu(STREAM[0]!, BOTH)).length;
    bytes[48 + 4 + 1] = (bytes[48 + 4 + 1] ?? 0) ^ 0xff; // a byte of "ping"
    const framed = new PduFramer(BOTH).push(bytes);
    expect(framed.map((f) => f.type)).toEqual(['data-digest-error', 'pdu', 'pdu', 'pdu']);
    const bad = framed[0];
    if (bad?.type !== 'data-digest-error') throw new Error('expected a data digest error');
    expect(bad.error).toBeInstanceOf(PduDecodeError);
    expect(bad.error.code).toBe('ERR_PDU_DATA_DIGEST');
    expect(bad.error.rejectReason).toBe(RejectReason.DataDigestError);
    // The header is intact and decodes, so the session can Reject it by ITT.
    expect(bad.header.toString('hex')).toBe(bytes.subarray(0, BHS_LENGTH).toString('hex'));
    expect(decodePdu(bad.header, [Buffer.from('xxxx')])).toMatchObject({ kind: 'nop-out', itt: 1 });
    expect(bad.header).toHaveLength(firstLength - 4 - 4 - 4); // BHS only: no digest, data or data digest
  });

  it('detects any single flipped bit in a digested PDU', () => {
    fc.assert(
      fc.property(arbPdu({ maxDataLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (pdu, at, bit) => {
        const bytes = Buffer.concat(encodePdu(pdu, BOTH));
        const index = at % bytes.length;
        bytes[index] = (bytes[index] ?? 0) ^ (1 << bit);
        const framer = new PduFramer({ ...BOTH, maxDataSegmentLength: 1 << 20 });
        let framed: ReturnType<PduFramer['push']>;
        try {
          framed = framer.push(bytes);
          // A flip in TotalAHSLength makes the framer wait for a longer header; the digest fails once it is in.
          if (framed.length === 0) framer.push(Buffer.alloc(2048));
        } catch (err) {
          expect(err).toBeInstanceOf(PduDecodeError);
          expect((err as PduDecodeError).code).toBe('ERR_PDU_HEADER_DIGEST');
          return;
        }
        // The header digest guards the lengths, so a flip that does not throw hit data, padding or the data
        // digest: exactly one PDU, reported as a data digest error.
        expect(framed.map((f) => f.type)).toEqual(['data-digest-error']);
      }),
      { numRuns: 500 },
    );
  });

  it('switches digests on after a pause at the end of login', () => {
    const loginResponse: Pdu = {
      kind: 'login-response',
      transit: true,
      continue: false,
      currentStage: 1,
      nextStage: 3,
      versionMax: 0,
      versionActive: 0,
      isid: { type: 2, a: 0, b: 1, c: 2, d: 3 },
      tsih: 7,
      itt: 0,
      statSN: 1,
      expCmdSN: 2,
      maxCmdSN: 9,
      statusClass: 0,
      statusDetail: 0,
      data: [Buffer.from('HeaderDigest=CRC32C\0DataDigest=CRC32C\0')],
    };
    const nopIn: Pdu = {
      kind: 'nop-in',
      lun: 0n,
      itt: 0xffffffff,
      ttt: 5,
      statSN: 2,
      expCmdSN: 2,
      maxCmdSN: 9,
      data: [Buffer.from('x')],
    };
    // The target pipelines a NOP-In (with digests) right behind its last Login Response (without).
    const bytes = Buffer.concat([...encodePdu(loginResponse, NONE), ...encodePdu(nopIn, BOTH)]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const framer = new PduFramer({ pauseAfter: mayEndLoginPhase });
      const framed = [...framer.push(bytes.subarray(0, cut)), ...framer.push(bytes.subarray(cut))];
      expect(framer.paused).toBe(true);
      expect(decodeFramed(framed).map(normalizePdu)).toEqual([normalizePdu(loginResponse)]);
      framer.setDigests(BOTH);
      framer.setMaxDataSegmentLength(65536);
      expect(decodeFramed(framer.resume()).map(normalizePdu)).toEqual([normalizePdu(nopIn)]);
      expect(framer.paused).toBe(false);
    }
  });
});

describe('PduFramer bounds', () => {
  it('refuses a DataSegmentLength over the limit as soon as the header is in, before any data', () => {
    const pdu: Pdu = {
      kind: 'nop-out',
      immediate: true,
      lun: 0n,
      itt: 1,
      ttt: 0xffffffff,
      cmdSN: 1,
      expStatSN: 1,
      data: [Buffer.alloc(1000)],
    };
    const bytes = Buffer.concat(encodePdu(pdu, NONE));
    const framer = new PduFramer({ maxDataSegmentLength: 999 });
    expect(framer.push(bytes.subarray(0, BHS_LENGTH - 1))).toEqual([]);
    try {
      framer.push(bytes.subarray(BHS_LENGTH - 1, BHS_LENGTH));
      throw new Error('expected a throw');
    } catch (err) {
      expect(err).toBeInstanceOf(FramerError);
      expect((err as FramerError).code).toBe('ERR_PDU_DATA_TOO_LONG');
      expect((err as FramerError).rejectReason).toBe(RejectReason.ProtocolError);
      expect((err as FramerError).header).toHaveLength(BHS_LENGTH);
    }
    // Exactly at the limit is fine, and the limit can be raised after login.
    expect(new PduFramer({ maxDataSegmentLength: 1000 }).push(bytes)).toHaveLength(1);
    const raised = new PduFramer({ maxDataSegmentLength: 8 });
    raised.setMaxDataSegmentLength(1000);
    expect(raised.push(bytes)).toHaveLength(1);
  });

  it('refuses an AHS over its limit', () => {
    const cmd = STREAM[1]!;
    const bytes = Buffer.concat(encodePdu(cmd, NONE));
    expect(() => new PduFramer({ maxAhsLength: 4 }).push(bytes)).toThrow(PduDecodeError);
    expect(new PduFramer({ maxAhsLength: 8 }).push(bytes)).toHaveLength(1);
  });

  it('never buffers more than maxBufferedBytes while paused', () => {
    const bytes = encodeStream(STREAM, NONE);
    const framer = new PduFramer({ pauseAfter: () => true, maxBufferedBytes: 100 });
    expect(framer.push(bytes.subarray(0, 60))).toHaveLength(1);
    expect(framer.paused).toBe(true);
    expect(() => framer.push(bytes.subarray(60, 200))).toThrow(PduDecodeError);
  });

  it('rejects settings out of range with a PduEncodeError', () => {
    expect(() => new PduFramer({ maxDataSegmentLength: 2 ** 24 })).toThrow(PduEncodeError);
    expect(() => new PduFramer({ maxAhsLength: 1024 })).toThrow(PduEncodeError);
    expect(() => {
      new PduFramer().setMaxDataSegmentLength(-1);
    }).toThrow(PduEncodeError);
  });

  it('keeps memory bounded on endless garbage: it fails instead of buffering', () => {
    const framer = new PduFramer({ maxDataSegmentLength: 8192 });
    const garbage = Buffer.alloc(4096, 0xff); // DataSegmentLength 0xffffff in every BHS
    expect(() => framer.push(garbage)).toThrow(PduDecodeError);
  });
});
