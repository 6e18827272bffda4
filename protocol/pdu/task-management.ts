/** Task Management Function Request (RFC 7143 §11.5) and Response (§11.6). */
import { bit, readTargetSequence, writeTargetSequence, type KindCodec, type TargetSequence } from './codec.js';
import { bitField, putU32, putU64, putU8 } from './fields.js';
import { FINAL_BIT, IMMEDIATE_BIT, Opcode } from './opcodes.js';

/** Task management functions (RFC 7143 §11.5.1; 9-12 added by RFC 7144 for SAM-4/5). */
export const TaskManagementFunction = {
  AbortTask: 1,
  AbortTaskSet: 2,
  ClearAca: 3,
  ClearTaskSet: 4,
  LogicalUnitReset: 5,
  TargetWarmReset: 6,
  TargetColdReset: 7,
  TaskReassign: 8,
  QueryTask: 9,
  QueryTaskSet: 10,
  ItNexusReset: 11,
  QueryAsyncEvent: 12,
} as const;

/** One of the {@link TaskManagementFunction} values. */
export type TaskManagementFunction = (typeof TaskManagementFunction)[keyof typeof TaskManagementFunction];

/** Task management responses (RFC 7143 §11.6.1; 7 added by RFC 7144). */
export const TaskManagementResponse = {
  FunctionComplete: 0,
  TaskDoesNotExist: 1,
  LunDoesNotExist: 2,
  TaskStillAllegiant: 3,
  TaskAllegianceReassignmentNotSupported: 4,
  FunctionNotSupported: 5,
  FunctionAuthorizationFailed: 6,
  FunctionSucceeded: 7,
  FunctionRejected: 255,
} as const;

/** One of the {@link TaskManagementResponse} values. */
export type TaskManagementResponse = (typeof TaskManagementResponse)[keyof typeof TaskManagementResponse];

/** Task Management Function Request. */
export interface TaskManagementRequestPdu {
  readonly kind: 'task-management-request';
  readonly immediate: boolean;
  /** Function (7 bits), a {@link TaskManagementFunction}. */
  readonly function: number;
  readonly lun: bigint;
  readonly itt: number;
  /** ITT of the task to act on (ABORT TASK, TASK REASSIGN, QUERY TASK), else 0xffffffff. */
  readonly referencedTaskTag: number;
  readonly cmdSN: number;
  readonly expStatSN: number;
  /** CmdSN of the referenced task (ABORT TASK / QUERY TASK). */
  readonly refCmdSN: number;
  /** For TASK REASSIGN: the next DataSN/R2TSN expected. */
  readonly expDataSN: number;
}

/** Task Management Function Response. */
export interface TaskManagementResponsePdu extends TargetSequence {
  readonly kind: 'task-management-response';
  /** A {@link TaskManagementResponse}. */
  readonly response: number;
  readonly itt: number;
}

/** Codec of {@link TaskManagementRequestPdu}. */
export const taskManagementRequestCodec: KindCodec<TaskManagementRequestPdu> = {
  opcode: Opcode.TaskManagementRequest,
  carriesData: false,
  write(p, bhs) {
    if (p.immediate) bhs[0] = bhs.readUInt8(0) | IMMEDIATE_BIT;
    bhs[1] = FINAL_BIT | bitField(p.function, 7, 'Function');
    putU64(bhs, 8, p.lun, 'LUN');
    putU32(bhs, 16, p.itt, 'ITT');
    putU32(bhs, 20, p.referencedTaskTag, 'ReferencedTaskTag');
    putU32(bhs, 24, p.cmdSN, 'CmdSN');
    putU32(bhs, 28, p.expStatSN, 'ExpStatSN');
    putU32(bhs, 32, p.refCmdSN, 'RefCmdSN');
    putU32(bhs, 36, p.expDataSN, 'ExpDataSN');
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'task-management-request',
      immediate: bit(bhs, 0, IMMEDIATE_BIT),
      function: bhs.readUInt8(1) & 0x7f,
      lun: bhs.readBigUInt64BE(8),
      itt: bhs.readUInt32BE(16),
      referencedTaskTag: bhs.readUInt32BE(20),
      cmdSN: bhs.readUInt32BE(24),
      expStatSN: bhs.readUInt32BE(28),
      refCmdSN: bhs.readUInt32BE(32),
      expDataSN: bhs.readUInt32BE(36),
    };
  },
};

/** Codec of {@link TaskManagementResponsePdu}. */
export const taskManagementResponseCodec: KindCodec<TaskManagementResponsePdu> = {
  opcode: Opcode.TaskManagementResponse,
  carriesData: false,
  write(p, bhs) {
    bhs[1] = FINAL_BIT;
    putU8(bhs, 2, p.response, 'Response');
    putU32(bhs, 16, p.itt, 'ITT');
    writeTargetSequence(bhs, p);
    return undefined;
  },
  read(bhs) {
    return {
      kind: 'task-management-response',
      response: bhs.readUInt8(2),
      itt: bhs.readUInt32BE(16),
      ...readTargetSequence(bhs),
    };
  },
};
