import { describe, expect, it } from 'vitest';
import {
  encodeHeader,
  encodePdu,
  PduEncodeError,
  TaskAttribute,
  type Pdu,
  type PduKind,
} from '../../../protocol/pdu/index.js';

const SEQ = { statSN: 0x11111111, expCmdSN: 0x22222222, maxCmdSN: 0x33333333 };
const LUN = 0x0001020304050607n;

/** Hex of `len` bytes at `offset`. */
function at(buf: Buffer, offset: number, len: number): string {
  return buf.subarray(offset, offset + len).toString('hex');
}

describe('encodePdu', () => {
  it('reproduces the RFC 3720 B.4 iSCSI Read (10) command byte for byte, with its header digest', () => {
    const read10: Pdu = {
      kind: 'scsi-command',
      immediate: false,
      final: true,
      read: true,
      write: false,
      attribute: TaskAttribute.Untagged,
      lun: 0n,
      itt: 0x14000000,
      expectedDataTransferLength: 0x400,
      cmdSN: 0x14,
      expStatSN: 0x18,
      cdb: Buffer.from('28000000000000000200000000000000', 'hex'),
      data: [],
    };
    const [header, ...rest] = encodePdu(read10, { headerDigest: true, dataDigest: true });
    expect(rest).toEqual([]);
    expect(header?.toString('hex')).toBe(
      '01c00000000000000000000000000000140000000000040000000014000000182800000000000000020000000000000' +
        '0' +
        '563a96d9',
    );
  });

  it('sends the data chunks themselves (no copy), then padding and the data digest', () => {
    const a = Buffer.from('hello');
    const b = Buffer.from('world!');
    const pdu: Pdu = {
      kind: 'nop-out',
      immediate: true,
      lun: 0n,
      itt: 1,
      ttt: 0xffffffff,
      cmdSN: 1,
      expStatSN: 1,
      data: [a, b],
    };
    const chunks = encodePdu(pdu, { headerDigest: false, dataDigest: true });
    expect(chunks).toHaveLength(4);
    expect(chunks[1]).toBe(a);
    expect(chunks[2]).toBe(b);
    expect(chunks[3]).toHaveLength(1 + 4); // 11 bytes of data: 1 byte of padding, then the digest
    expect(chunks[0]?.readUIntBE(5, 3)).toBe(11); // DataSegmentLength excludes the padding
  });

  it('pads without a digest and adds nothing for an empty data segment, even with data digests on', () => {
    const pdu: Pdu = {
      kind: 'nop-out',
      immediate: true,
      lun: 0n,
      itt: 1,
      ttt: 0xffffffff,
      cmdSN: 1,
      expStatSN: 1,
      data: [Buffer.from('abcde')],
    };
    const padded = encodePdu(pdu, { headerDigest: false, dataDigest: false });
    expect(padded.map((c) => c.length)).toEqual([48, 5, 3]);
    const empty = encodePdu({ ...pdu, data: [Buffer.alloc(0)] }, { headerDigest: true, dataDigest: true });
    expect(empty.map((c) => c.length)).toEqual([52]);
  });

  it('puts a CDB longer than 16 bytes into an Extended-CDB AHS and a bidirectional read length into its AHS', () => {
    const cdb = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
    const header = encodeHeader({
      kind: 'scsi-command',
      immediate: false,
      final: true,
      read: true,
      write: true,
      attribute: TaskAttribute.Simple,
      lun: 0n,
      itt: 1,
      expectedDataTransferLength: 512,
      cmdSN: 1,
      expStatSN: 1,
      cdb,
      bidirectionalReadLength: 0x1000,
      data: [],
    });
    // Extended CDB: AHSLength 17 (16 CDB bytes + reserved), type 1, reserved, 16 bytes, 3 of padding = 20 bytes.
    // Bidirectional: AHSLength 5, type 2, reserved, 4 bytes = 8 bytes.
    expect(header).toHaveLength(48 + 20 + 8);
    expect(header[4]).toBe(7); // TotalAHSLength in words
    expect(at(header, 32, 16)).toBe(cdb.subarray(0, 16).toString('hex'));
    expect(at(header, 48, 4)).toBe('00110100');
    expect(at(header, 52, 16)).toBe(cdb.subarray(16).toString('hex'));
    expect(at(header, 68, 8)).toBe('0005020000001000');
  });

  it('zero-pads a CDB shorter than 16 bytes', () => {
    const header = encodeHeader({
      kind: 'scsi-command',
      immediate: false,
      final: true,
      read: false,
      write: false,
      attribute: 1,
      lun: 0n,
      itt: 1,
      expectedDataTransferLength: 0,
      cmdSN: 1,
      expStatSN: 1,
      cdb: Buffer.from([0x00, 0, 0, 0, 0, 0]), // TEST UNIT READY
      data: [],
    });
    expect(header).toHaveLength(48);
    expect(at(header, 32, 16)).toBe('00'.repeat(16));
  });
});

// Every field at the offset RFC 7143 §11 gives it, with values that cannot be confused with each other.
const layouts: {
  readonly [K in PduKind]: { readonly pdu: Extract<Pdu, { kind: K }>; readonly bytes: readonly [number, string][] };
} = {
  'nop-out': {
    pdu: {
      kind: 'nop-out',
      immediate: true,
      lun: LUN,
      itt: 0xa1a2a3a4,
      ttt: 0xb1b2b3b4,
      cmdSN: 0xc1c2c3c4,
      expStatSN: 0xd1d2d3d4,
      data: [],
    },
    bytes: [
      [0, '40800000'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a4b1b2b3b4c1c2c3c4d1d2d3d4'],
    ],
  },
  'scsi-command': {
    pdu: {
      kind: 'scsi-command',
      immediate: true,
      final: true,
      read: false,
      write: true,
      attribute: TaskAttribute.HeadOfQueue,
      lun: LUN,
      itt: 0xa1a2a3a4,
      expectedDataTransferLength: 0x1000,
      cmdSN: 0xc1c2c3c4,
      expStatSN: 0xd1d2d3d4,
      cdb: Buffer.from('2a000000000100000800000000000000', 'hex'),
      data: [Buffer.alloc(8)],
    },
    bytes: [
      [0, '41a30000'],
      [4, '00000008'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a400001000c1c2c3c4d1d2d3d4'],
      [32, '2a000000000100000800000000000000'],
    ],
  },
  'task-management-request': {
    pdu: {
      kind: 'task-management-request',
      immediate: true,
      function: 1,
      lun: LUN,
      itt: 0xa1a2a3a4,
      referencedTaskTag: 0xb1b2b3b4,
      cmdSN: 0xc1c2c3c4,
      expStatSN: 0xd1d2d3d4,
      refCmdSN: 0xe1e2e3e4,
      expDataSN: 0xf1f2f3f4,
    },
    bytes: [
      [0, '42810000'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a4b1b2b3b4c1c2c3c4d1d2d3d4e1e2e3e4f1f2f3f4'],
    ],
  },
  'login-request': {
    pdu: {
      kind: 'login-request',
      transit: true,
      continue: false,
      currentStage: 1,
      nextStage: 3,
      versionMax: 0,
      versionMin: 0,
      isid: { type: 1, a: 0, b: 0x0137, c: 0x12, d: 0x3456 },
      tsih: 0x789a,
      itt: 0xa1a2a3a4,
      cid: 0xbbcc,
      cmdSN: 0xc1c2c3c4,
      expStatSN: 0xd1d2d3d4,
      data: [Buffer.from('MaxRecvDataSegmentLength=65536\0')],
    },
    bytes: [
      [0, '43870000'],
      [4, '0000001f'],
      [8, '40013712 3456 789a'.replaceAll(' ', '')],
      [16, 'a1a2a3a4bbcc0000c1c2c3c4d1d2d3d4'],
    ],
  },
  'text-request': {
    pdu: {
      kind: 'text-request',
      immediate: false,
      final: true,
      continue: false,
      lun: LUN,
      itt: 0xa1a2a3a4,
      ttt: 0xffffffff,
      cmdSN: 0xc1c2c3c4,
      expStatSN: 0xd1d2d3d4,
      data: [],
    },
    bytes: [
      [0, '04800000'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a4ffffffffc1c2c3c4d1d2d3d4'],
    ],
  },
  'scsi-data-out': {
    pdu: {
      kind: 'scsi-data-out',
      final: true,
      lun: LUN,
      itt: 0xa1a2a3a4,
      ttt: 0xb1b2b3b4,
      expStatSN: 0xd1d2d3d4,
      dataSN: 0xe1e2e3e4,
      bufferOffset: 0x2000,
      data: [Buffer.alloc(4)],
    },
    bytes: [
      [0, '05800000'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a4b1b2b3b400000000d1d2d3d400000000e1e2e3e400002000'],
    ],
  },
  'logout-request': {
    pdu: {
      kind: 'logout-request',
      immediate: true,
      reason: 1,
      itt: 0xa1a2a3a4,
      cid: 0xbbcc,
      cmdSN: 0xc1c2c3c4,
      expStatSN: 0xd1d2d3d4,
    },
    bytes: [
      [0, '46810000'],
      [16, 'a1a2a3a4bbcc0000c1c2c3c4d1d2d3d4'],
    ],
  },
  'snack-request': {
    pdu: {
      kind: 'snack-request',
      type: 1,
      lun: LUN,
      itt: 0xffffffff,
      ttt: 0xb1b2b3b4,
      expStatSN: 0xd1d2d3d4,
      begRun: 0xe1e2e3e4,
      runLength: 3,
    },
    bytes: [
      [0, '10810000'],
      [8, '0001020304050607'],
      [16, 'ffffffffb1b2b3b400000000d1d2d3d40000000000000000e1e2e3e400000003'],
    ],
  },
  'nop-in': {
    pdu: { kind: 'nop-in', lun: LUN, itt: 0xa1a2a3a4, ttt: 0xb1b2b3b4, ...SEQ, data: [] },
    bytes: [
      [0, '20800000'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a4b1b2b3b4111111112222222233333333'],
    ],
  },
  'scsi-response': {
    pdu: {
      kind: 'scsi-response',
      bidirectionalReadResidualOverflow: true,
      bidirectionalReadResidualUnderflow: false,
      residualOverflow: false,
      residualUnderflow: true,
      response: 0x01,
      status: 0x02,
      itt: 0xa1a2a3a4,
      snackTag: 0xb1b2b3b4,
      ...SEQ,
      expDataSN: 0xe1e2e3e4,
      bidirectionalReadResidualCount: 0x44,
      residualCount: 0x55,
      data: [],
    },
    bytes: [
      [0, '21920102'],
      [16, 'a1a2a3a4b1b2b3b4111111112222222233333333e1e2e3e40000004400000055'],
    ],
  },
  'task-management-response': {
    pdu: { kind: 'task-management-response', response: 0xff, itt: 0xa1a2a3a4, ...SEQ },
    bytes: [
      [0, '2280ff00'],
      [16, 'a1a2a3a400000000111111112222222233333333'],
    ],
  },
  'login-response': {
    pdu: {
      kind: 'login-response',
      transit: true,
      continue: true,
      currentStage: 0,
      nextStage: 1,
      versionMax: 0,
      versionActive: 0,
      isid: { type: 2, a: 5, b: 0xabcd, c: 0xef, d: 1 },
      tsih: 0x0102,
      itt: 0xa1a2a3a4,
      ...SEQ,
      statusClass: 2,
      statusDetail: 1,
      data: [],
    },
    bytes: [
      [0, '23c10000'],
      [8, '85abcdef00010102'],
      [16, 'a1a2a3a400000000111111112222222233333333'],
      [36, '0201'],
    ],
  },
  'text-response': {
    pdu: {
      kind: 'text-response',
      final: false,
      continue: true,
      lun: LUN,
      itt: 0xa1a2a3a4,
      ttt: 0xb1b2b3b4,
      ...SEQ,
      data: [],
    },
    bytes: [
      [0, '24400000'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a4b1b2b3b4111111112222222233333333'],
    ],
  },
  'scsi-data-in': {
    pdu: {
      kind: 'scsi-data-in',
      final: true,
      acknowledge: false,
      residualOverflow: false,
      residualUnderflow: true,
      statusPresent: true,
      status: 0,
      lun: LUN,
      itt: 0xa1a2a3a4,
      ttt: 0xffffffff,
      ...SEQ,
      dataSN: 0xe1e2e3e4,
      bufferOffset: 0x3000,
      residualCount: 0x66,
      data: [Buffer.alloc(4)],
    },
    bytes: [
      [0, '25830000'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a4ffffffff111111112222222233333333e1e2e3e40000300000000066'],
    ],
  },
  'logout-response': {
    pdu: { kind: 'logout-response', response: 2, itt: 0xa1a2a3a4, ...SEQ, time2Wait: 0x0102, time2Retain: 0x0304 },
    bytes: [
      [0, '26800200'],
      [16, 'a1a2a3a400000000111111112222222233333333000000000102 0304'.replaceAll(' ', '')],
    ],
  },
  r2t: {
    pdu: {
      kind: 'r2t',
      lun: LUN,
      itt: 0xa1a2a3a4,
      ttt: 0xb1b2b3b4,
      ...SEQ,
      r2tSN: 0xe1e2e3e4,
      bufferOffset: 0x4000,
      desiredDataTransferLength: 0x10000,
    },
    bytes: [
      [0, '31800000'],
      [8, '0001020304050607'],
      [16, 'a1a2a3a4b1b2b3b4111111112222222233333333e1e2e3e40000400000010000'],
    ],
  },
  'async-message': {
    pdu: {
      kind: 'async-message',
      lun: LUN,
      ...SEQ,
      asyncEvent: 1,
      asyncVCode: 0,
      parameter1: 0x0a0b,
      parameter2: 0x0c0d,
      parameter3: 0x0e0f,
      data: [],
    },
    bytes: [
      [0, '32800000'],
      [8, '0001020304050607'],
      [16, 'ffffffff00000000111111112222222233333333 0100 0a0b 0c0d 0e0f 00000000'.replaceAll(' ', '')],
    ],
  },
  reject: {
    pdu: { kind: 'reject', reason: 0x09, ...SEQ, dataSN: 0xe1e2e3e4, data: [Buffer.alloc(48)] },
    bytes: [
      [0, '3f800900'],
      [4, '00000030'],
      [16, 'ffffffff00000000111111112222222233333333e1e2e3e4'],
    ],
  },
};

describe('BHS layout of every kind (RFC 7143 §11 offsets)', () => {
  it.each(Object.entries(layouts))('%s', (_kind, { pdu, bytes }) => {
    const header = encodeHeader(pdu);
    for (const [offset, hex] of bytes) expect(at(header, offset, hex.length / 2)).toBe(hex);
  });

  it('writes zero to every byte no field claims', () => {
    const nop = encodeHeader(layouts['nop-out'].pdu);
    expect(at(nop, 1, 3)).toBe('800000');
    expect(at(nop, 32, 16)).toBe('00'.repeat(16));
    const logout = encodeHeader(layouts['logout-response'].pdu);
    expect(at(logout, 4, 12)).toBe('00'.repeat(12));
    expect(at(logout, 36, 4)).toBe('00000000');
    expect(at(logout, 44, 4)).toBe('00000000');
  });
});

describe('encoder errors', () => {
  const nop = layouts['nop-out'].pdu;

  it.each([
    ['ITT above 2^32-1', { ...nop, itt: 2 ** 32 }],
    ['a negative CmdSN', { ...nop, cmdSN: -1 }],
    ['a fractional TTT', { ...nop, ttt: 1.5 }],
    ['a LUN above 2^64-1', { ...nop, lun: 2n ** 64n }],
  ])('refuses %s with ERR_PDU_ENCODE_FIELD', (_name, pdu) => {
    expect(() => encodeHeader(pdu)).toThrow(PduEncodeError);
    try {
      encodeHeader(pdu);
    } catch (err) {
      expect((err as PduEncodeError).code).toBe('ERR_PDU_ENCODE_FIELD');
    }
  });

  it('refuses flag fields wider than their bits', () => {
    expect(() => encodeHeader({ ...layouts['task-management-request'].pdu, function: 0x80 })).toThrow(PduEncodeError);
    expect(() => encodeHeader({ ...layouts['snack-request'].pdu, type: 16 })).toThrow(PduEncodeError);
    expect(() => encodeHeader({ ...layouts['scsi-command'].pdu, attribute: 8 })).toThrow(PduEncodeError);
  });

  it('refuses a data segment over 2^24-1 bytes and a CDB that overflows the AHS', () => {
    expect(() => encodePdu({ ...nop, data: [Buffer.alloc(2 ** 24)] })).toThrow(PduEncodeError);
    expect(() => encodeHeader({ ...layouts['scsi-command'].pdu, cdb: Buffer.alloc(16 + 1020) })).toThrow(
      PduEncodeError,
    );
  });

  it('refuses data on a kind that never carries it', () => {
    const r2t = { ...layouts.r2t.pdu, data: [Buffer.alloc(4)] } as unknown as Pdu;
    expect(() => encodePdu(r2t)).toThrow(PduEncodeError);
  });
});
