import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isIserError } from '../../../protocol/errors.js';
import { encodeHeader, encodeIserMessage, type Pdu } from '../../../protocol/pdu/index.js';
import { parseInboundSend } from '../../../transports/iser/inbound-send.js';
import { nopIn, nopOut, scsiCommand } from '../datamover-support.js';

function send(pdu: Pdu, iserFlagsOrHeader: Buffer = encodeIserMessage({ kind: 'control' })): Buffer {
  const data = 'data' in pdu ? pdu.data : [];
  return Buffer.concat([iserFlagsOrHeader, encodeHeader(pdu), ...data]);
}

function protocolErrorOf(work: () => unknown): string {
  try {
    work();
  } catch (err) {
    expect(isIserError(err, 'ERR_ISER_PROTOCOL'), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected ERR_ISER_PROTOCOL');
}

describe('parseInboundSend (what may arrive in a receive buffer)', () => {
  it('splits a good Send into iSER header, BHS and data views', () => {
    const tags = encodeIserMessage({
      kind: 'control',
      read: { stag: 0x1234, va: 0x1000n },
      write: { stag: 9, va: 0x2000n },
    });
    const command = { ...scsiCommand(1, 100, { read: true, write: true }), data: [Buffer.alloc(10, 7)] };
    const parsed = parseInboundSend(send(command, tags), 'target', 8192);
    expect(parsed.iser).toEqual({
      kind: 'control',
      read: { stag: 0x1234, va: 0x1000n },
      write: { stag: 9, va: 0x2000n },
    });
    expect(parsed.header.length).toBe(48);
    expect(parsed.data).toEqual(Buffer.alloc(10, 7));
  });

  it('refuses Hello, HelloReply, unknown opcodes and reserved flag bits', () => {
    const base = send(nopOut(1));
    for (const flags of [0x20, 0x30, 0x00, 0x40, 0xf0, 0x11, 0x12]) {
      const bytes = Buffer.from(base);
      bytes[0] = flags;
      protocolErrorOf(() => parseInboundSend(bytes, 'target', 8192));
    }
    expect(protocolErrorOf(() => parseInboundSend(Buffer.alloc(0), 'target', 8192))).toMatch(/empty Send/);
  });

  it('refuses STags from a target, and STags on anything but a SCSI Command', () => {
    const tagged = encodeIserMessage({ kind: 'control', read: { stag: 1, va: 0n } });
    expect(protocolErrorOf(() => parseInboundSend(send(nopIn(1), tagged), 'initiator', 8192))).toMatch(
      /target set WSV\/RSV/,
    );
    expect(protocolErrorOf(() => parseInboundSend(send(nopOut(1), tagged), 'target', 8192))).toMatch(
      /STags belong only/,
    );
  });

  it('refuses data beyond what we declared, and lengths that fill the Send neither exactly nor padded to 4', () => {
    const big = send(nopOut(1, [Buffer.alloc(600)]));
    expect(protocolErrorOf(() => parseInboundSend(big, 'target', 512))).toMatch(/more than the 512/);
    protocolErrorOf(() =>
      parseInboundSend(Buffer.concat([send(nopOut(1, [Buffer.alloc(5)])), Buffer.alloc(4)]), 'target', 8192),
    );
    // Linux isert pads its Login Responses as over TCP: accepted, pad dropped.
    expect(() =>
      parseInboundSend(Buffer.concat([send(nopOut(1, [Buffer.alloc(5)])), Buffer.alloc(3)]), 'target', 8192),
    ).not.toThrow();
    protocolErrorOf(() => parseInboundSend(send(nopOut(1, [Buffer.alloc(5)])).subarray(0, 80), 'target', 8192));
  });

  it('random and mutated bytes only ever give ERR_ISER_PROTOCOL', () => {
    const good = send({ ...scsiCommand(3, 64, { write: true }), data: [Buffer.alloc(64, 1)] });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
          fc
            .array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })
            .map((edits) => {
              const bytes = Buffer.from(good);
              for (const [at, value] of edits) bytes[at] = value;
              return bytes;
            }),
        ),
        fc.constantFrom('initiator' as const, 'target' as const),
        (bytes, role) => {
          try {
            parseInboundSend(bytes, role, 8192);
          } catch (err) {
            expect(isIserError(err, 'ERR_ISER_PROTOCOL'), String(err)).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
