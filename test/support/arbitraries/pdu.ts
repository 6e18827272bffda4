/**
 * fast-check arbitraries for every iSCSI PDU kind and the iSER messages, shared by the codec, session and
 * conformance tests. Every generated PDU encodes, and decodes back to itself once its data chunks are joined
 * ({@link normalizePdu}).
 */
import fc from 'fast-check';
import {
  type Isid,
  type IserMessage,
  type Pdu,
  type PduKind,
  type PduOf,
  type TaggedBuffer,
} from '../../../protocol/pdu/index.js';

/** Limits for generated PDUs. */
export interface PduArbitraryOptions {
  /** Largest total data segment (default 300 bytes, to keep property runs fast). */
  readonly maxDataLength?: number;
}

/** A 32-bit unsigned field. */
export const arbU32 = fc.integer({ min: 0, max: 0xffffffff });
/** A 16-bit unsigned field. */
export const arbU16 = fc.integer({ min: 0, max: 0xffff });
/** An 8-bit unsigned field. */
export const arbU8 = fc.integer({ min: 0, max: 0xff });
/** A raw 64-bit LUN. */
export const arbLun = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
/** A 2-bit login stage. */
export const arbStage = fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const);

/** An ISID with every field in range. */
export const arbIsid: fc.Arbitrary<Isid> = fc.record({
  type: fc.integer({ min: 0, max: 3 }),
  a: fc.integer({ min: 0, max: 0x3f }),
  b: arbU16,
  c: arbU8,
  d: arbU16,
});

/** A data segment as a chunk list (possibly with empty chunks), of at most `maxLength` bytes in total. */
export function arbChunks(maxLength = 300): fc.Arbitrary<Buffer[]> {
  return fc
    .uint8Array({ maxLength })
    .chain((bytes) =>
      fc
        .array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 4 })
        .map((cuts) => splitAt(Buffer.from(bytes), cuts)),
    );
}

function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const p of points) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  out.push(bytes.subarray(start));
  return out.length === 1 && bytes.length === 0 ? [] : out;
}

/** Target sequence numbers (StatSN, ExpCmdSN, MaxCmdSN). */
const targetSequence = { statSN: arbU32, expCmdSN: arbU32, maxCmdSN: arbU32 };

/** One arbitrary per PDU kind; the mapped type makes a missing kind a compile error. */
export function pduArbitraries(options: PduArbitraryOptions = {}): { readonly [K in PduKind]: fc.Arbitrary<PduOf<K>> } {
  const data = arbChunks(options.maxDataLength ?? 300);
  return {
    'nop-out': fc.record({
      kind: fc.constant('nop-out' as const),
      immediate: fc.boolean(),
      lun: arbLun,
      itt: arbU32,
      ttt: arbU32,
      cmdSN: arbU32,
      expStatSN: arbU32,
      data,
    }),
    'scsi-command': fc.record(
      {
        kind: fc.constant('scsi-command' as const),
        immediate: fc.boolean(),
        final: fc.boolean(),
        read: fc.boolean(),
        write: fc.boolean(),
        attribute: fc.integer({ min: 0, max: 7 }),
        lun: arbLun,
        itt: arbU32,
        expectedDataTransferLength: arbU32,
        cmdSN: arbU32,
        expStatSN: arbU32,
        // 16 bytes fit the BHS; up to 260 (the longest SCSI CDB) spill into the Extended-CDB AHS.
        cdb: fc
          .oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 17, maxLength: 260 }))
          .map((u) => Buffer.from(u)),
        bidirectionalReadLength: arbU32,
        data,
      },
      {
        requiredKeys: [
          'kind',
          'immediate',
          'final',
          'read',
          'write',
          'attribute',
          'lun',
          'itt',
          'expectedDataTransferLength',
          'cmdSN',
          'expStatSN',
          'cdb',
          'data',
        ],
      },
    ),
    'task-management-request': fc.record({
      kind: fc.constant('task-management-request' as const),
      immediate: fc.boolean(),
      function: fc.integer({ min: 0, max: 0x7f }),
      lun: arbLun,
      itt: arbU32,
      referencedTaskTag: arbU32,
      cmdSN: arbU32,
      expStatSN: arbU32,
      refCmdSN: arbU32,
      expDataSN: arbU32,
    }),
    'login-request': fc.record({
      kind: fc.constant('login-request' as const),
      transit: fc.boolean(),
      continue: fc.boolean(),
      currentStage: arbStage,
      nextStage: arbStage,
      versionMax: arbU8,
      versionMin: arbU8,
      isid: arbIsid,
      tsih: arbU16,
      itt: arbU32,
      cid: arbU16,
      cmdSN: arbU32,
      expStatSN: arbU32,
      data,
    }),
    'text-request': fc.record({
      kind: fc.constant('text-request' as const),
      immediate: fc.boolean(),
      final: fc.boolean(),
      continue: fc.boolean(),
      lun: arbLun,
      itt: arbU32,
      ttt: arbU32,
      cmdSN: arbU32,
      expStatSN: arbU32,
      data,
    }),
    'scsi-data-out': fc.record({
      kind: fc.constant('scsi-data-out' as const),
      final: fc.boolean(),
      lun: arbLun,
      itt: arbU32,
      ttt: arbU32,
      expStatSN: arbU32,
      dataSN: arbU32,
      bufferOffset: arbU32,
      data,
    }),
    'logout-request': fc.record({
      kind: fc.constant('logout-request' as const),
      immediate: fc.boolean(),
      reason: fc.integer({ min: 0, max: 0x7f }),
      itt: arbU32,
      cid: arbU16,
      cmdSN: arbU32,
      expStatSN: arbU32,
    }),
    'snack-request': fc.record({
      kind: fc.constant('snack-request' as const),
      type: fc.integer({ min: 0, max: 0x0f }),
      lun: arbLun,
      itt: arbU32,
      ttt: arbU32,
      expStatSN: arbU32,
      begRun: arbU32,
      runLength: arbU32,
    }),
    'nop-in': fc.record({
      kind: fc.constant('nop-in' as const),
      lun: arbLun,
      itt: arbU32,
      ttt: arbU32,
      ...targetSequence,
      data,
    }),
    'scsi-response': fc.record({
      kind: fc.constant('scsi-response' as const),
      bidirectionalReadResidualOverflow: fc.boolean(),
      bidirectionalReadResidualUnderflow: fc.boolean(),
      residualOverflow: fc.boolean(),
      residualUnderflow: fc.boolean(),
      response: arbU8,
      status: arbU8,
      itt: arbU32,
      snackTag: arbU32,
      ...targetSequence,
      expDataSN: arbU32,
      bidirectionalReadResidualCount: arbU32,
      residualCount: arbU32,
      data,
    }),
    'task-management-response': fc.record({
      kind: fc.constant('task-management-response' as const),
      response: arbU8,
      itt: arbU32,
      ...targetSequence,
    }),
    'login-response': fc.record({
      kind: fc.constant('login-response' as const),
      transit: fc.boolean(),
      continue: fc.boolean(),
      currentStage: arbStage,
      nextStage: arbStage,
      versionMax: arbU8,
      versionActive: arbU8,
      isid: arbIsid,
      tsih: arbU16,
      itt: arbU32,
      ...targetSequence,
      statusClass: arbU8,
      statusDetail: arbU8,
      data,
    }),
    'text-response': fc.record({
      kind: fc.constant('text-response' as const),
      final: fc.boolean(),
      continue: fc.boolean(),
      lun: arbLun,
      itt: arbU32,
      ttt: arbU32,
      ...targetSequence,
      data,
    }),
    'scsi-data-in': fc.record({
      kind: fc.constant('scsi-data-in' as const),
      final: fc.boolean(),
      acknowledge: fc.boolean(),
      residualOverflow: fc.boolean(),
      residualUnderflow: fc.boolean(),
      statusPresent: fc.boolean(),
      status: arbU8,
      lun: arbLun,
      itt: arbU32,
      ttt: arbU32,
      ...targetSequence,
      dataSN: arbU32,
      bufferOffset: arbU32,
      residualCount: arbU32,
      data,
    }),
    'logout-response': fc.record({
      kind: fc.constant('logout-response' as const),
      response: arbU8,
      itt: arbU32,
      ...targetSequence,
      time2Wait: arbU16,
      time2Retain: arbU16,
    }),
    r2t: fc.record({
      kind: fc.constant('r2t' as const),
      lun: arbLun,
      itt: arbU32,
      ttt: arbU32,
      ...targetSequence,
      r2tSN: arbU32,
      bufferOffset: arbU32,
      desiredDataTransferLength: arbU32,
    }),
    'async-message': fc.record({
      kind: fc.constant('async-message' as const),
      lun: arbLun,
      ...targetSequence,
      asyncEvent: arbU8,
      asyncVCode: arbU8,
      parameter1: arbU16,
      parameter2: arbU16,
      parameter3: arbU16,
      data,
    }),
    reject: fc.record({
      kind: fc.constant('reject' as const),
      reason: arbU8,
      ...targetSequence,
      dataSN: arbU32,
      data,
    }),
  };
}

/** Any PDU of any kind. */
export function arbPdu(options: PduArbitraryOptions = {}): fc.Arbitrary<Pdu> {
  const all: fc.Arbitrary<Pdu>[] = Object.values(pduArbitraries(options));
  return fc.oneof(...all);
}

/** A PDU of the given kind. */
export function arbPduOfKind<K extends PduKind>(kind: K, options: PduArbitraryOptions = {}): fc.Arbitrary<PduOf<K>> {
  return pduArbitraries(options)[kind];
}

/** The PDU with its data chunks joined into one (none when empty): the shape decoding yields from one buffer. */
export function normalizePdu(pdu: Pdu): Pdu {
  if (!('data' in pdu)) return pdu;
  const joined = Buffer.concat(pdu.data);
  return { ...pdu, data: joined.length === 0 ? [] : [joined] };
}

const arbTaggedBuffer: fc.Arbitrary<TaggedBuffer> = fc.record({ stag: arbU32, va: arbLun });

/** Any iSER message: control header, Hello or HelloReply. */
export const arbIserMessage: fc.Arbitrary<IserMessage> = fc.oneof(
  fc.record(
    { kind: fc.constant('control' as const), write: arbTaggedBuffer, read: arbTaggedBuffer },
    { requiredKeys: ['kind'] },
  ),
  fc.record({
    kind: fc.constant('hello' as const),
    maxVersion: fc.integer({ min: 0, max: 15 }),
    minVersion: fc.integer({ min: 0, max: 15 }),
    ird: arbU16,
  }),
  fc.record({
    kind: fc.constant('hello-reply' as const),
    reject: fc.boolean(),
    maxVersion: fc.integer({ min: 0, max: 15 }),
    currentVersion: fc.integer({ min: 0, max: 15 }),
    ord: arbU16,
  }),
);
