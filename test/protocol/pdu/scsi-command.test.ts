import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  decodePdu,
  encodeAhs,
  encodeHeader,
  PduDecodeError,
  type Pdu,
} from '../../../protocol/pdu/index.js';

const base: Extract<Pdu, { kind: 'scsi-command' }> = {
  kind: 'scsi-command',
  immediate: false,
  final: true,
  read: true,
  write: false,
  attribute: 1,
  lun: 0n,
  itt: 1,
  expectedDataTransferLength: 512,
  cmdSN: 1,
  expStatSN: 1,
  cdb: Buffer.alloc(16, 0x88),
  data: [],
};

/** A SCSI Command BHS followed by the given AHS segments. */
function withAhs(segments: { type: number; specific: Buffer }[]): Buffer {
  const ahs = encodeAhs(segments);
  const bhs = encodeHeader(base);
  bhs[4] = ahs.length / 4;
  return Buffer.concat([bhs, ahs]);
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PduDecodeError);
    return (err as PduDecodeError).code;
  }
  return undefined;
}

describe('SCSI Command CDB and AHS', () => {
  it('reassembles any CDB of 16..260 bytes from BHS and Extended-CDB AHS', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 260 }), (cdb) => {
        const pdu = { ...base, cdb: Buffer.from(cdb) };
        expect(decodePdu(encodeHeader(pdu))).toEqual(pdu);
      }),
      { numRuns: 200 },
    );
  });

  it('decodes the AHS a peer may put in either order', () => {
    const ext = Buffer.from([0, 1, 2, 3, 4]);
    const bidi = Buffer.from([0, 0, 0, 0x10, 0]);
    const header = withAhs([
      { type: 2, specific: bidi },
      { type: 1, specific: ext },
    ]);
    const { header: decoded } = decodeHeader(header);
    expect(decoded).toMatchObject({ kind: 'scsi-command', bidirectionalReadLength: 0x1000 });
    expect(decoded.kind === 'scsi-command' && decoded.cdb.subarray(16).toString('hex')).toBe('01020304');
  });

  it('refuses unknown, duplicate and mis-sized AHS', () => {
    expect(code(() => decodeHeader(withAhs([{ type: 3, specific: Buffer.alloc(1) }])))).toBe('ERR_PDU_AHS');
    const ext = { type: 1, specific: Buffer.alloc(5) };
    expect(code(() => decodeHeader(withAhs([ext, ext])))).toBe('ERR_PDU_AHS');
    expect(code(() => decodeHeader(withAhs([{ type: 1, specific: Buffer.alloc(1) }])))).toBe('ERR_PDU_AHS');
    expect(code(() => decodeHeader(withAhs([{ type: 2, specific: Buffer.alloc(4) }])))).toBe('ERR_PDU_AHS');
    const bidi = { type: 2, specific: Buffer.alloc(5) };
    expect(code(() => decodeHeader(withAhs([bidi, bidi])))).toBe('ERR_PDU_AHS');
  });

  it('attaches the offending header to AHS errors, for a Reject', () => {
    const header = withAhs([{ type: 9, specific: Buffer.alloc(1) }]);
    try {
      decodeHeader(header);
    } catch (err) {
      expect((err as PduDecodeError).header).toEqual(header);
    }
  });
});
