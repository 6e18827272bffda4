/** Asynchronous Message (RFC 7143 §11.9): a target-initiated event, e.g. a request to log out. */
import { readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { RESERVED_TAG } from './constants.js';
import { putU16, putU64, putU8 } from './fields.js';
import { FINAL_BIT, Opcode } from './opcodes.js';

/** AsyncEvent codes (RFC 7143 §11.9.1). */
export const AsyncEvent = {
  /** A SCSI asynchronous event; sense data in the data segment. */
  ScsiAsyncEvent: 0,
  /** The target asks for a logout within Parameter3 seconds. */
  LogoutRequest: 1,
  /** The target will drop connection Parameter1 (Time2Wait/Time2Retain in Parameter2/3). */
  ConnectionDrop: 2,
  /** The target will drop all connections of the session. */
  AllConnectionsDrop: 3,
  /** The target asks to renegotiate parameters (send a Text Request). */
  NegotiationRequest: 4,
  /** All active tasks for the LU named in the LUN field are being terminated. */
  TaskTermination: 5,
  /** Vendor-specific event in AsyncVCode. */
  VendorSpecific: 255,
} as const;

/** One of the {@link AsyncEvent} values. */
export type AsyncEvent = (typeof AsyncEvent)[keyof typeof AsyncEvent];

/** Asynchronous Message (ITT is always 0xffffffff on the wire). */
export interface AsyncMessagePdu extends TargetSequence {
  readonly kind: 'async-message';
  /** LUN (valid for SCSI events and task termination). */
  readonly lun: bigint;
  /** An {@link AsyncEvent}. */
  readonly asyncEvent: number;
  /** Vendor code for event 255. */
  readonly asyncVCode: number;
  readonly parameter1: number;
  readonly parameter2: number;
  readonly parameter3: number;
  /** SenseLength + sense data + iSCSI event data. */
  readonly data: readonly Buffer[];
}

/** Codec of {@link AsyncMessagePdu}. */
export const asyncMessageCodec: KindCodec<AsyncMessagePdu> = {
  opcode: Opcode.AsyncMessage,
  carriesData: true,
  write(p, bhs) {
    bhs[1] = FINAL_BIT;
    putU64(bhs, 8, p.lun, 'LUN');
    bhs.writeUInt32BE(RESERVED_TAG, 16);
    writeTargetSequence(bhs, p);
    putU8(bhs, 36, p.asyncEvent, 'AsyncEvent');
    putU8(bhs, 37, p.asyncVCode, 'AsyncVCode');
    putU16(bhs, 38, p.parameter1, 'Parameter1');
    putU16(bhs, 40, p.parameter2, 'Parameter2');
    putU16(bhs, 42, p.parameter3, 'Parameter3');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'async-message',
      lun: bhs.readBigUInt64BE(8),
      ...readTargetSequence(bhs),
      asyncEvent: bhs.readUInt8(36),
      asyncVCode: bhs.readUInt8(37),
      parameter1: bhs.readUInt16BE(38),
      parameter2: bhs.readUInt16BE(40),
      parameter3: bhs.readUInt16BE(42),
    };
  },
};
