/** Scripted-initiator helpers for the target session machine tests: PDU builders and action filters. */
import type {
  LogoutRequestPdu,
  NopOutPdu,
  ScsiCommandPdu,
  TaskManagementRequestPdu,
  TextRequestPdu,
} from '../../../protocol/pdu/index.js';
import { RESERVED_TAG } from '../../../protocol/pdu/index.js';
import { TargetSession } from '../../../protocol/session/target-session.js';
import type {
  ExecuteRequest,
  TargetControlPdu,
  TargetSessionAction,
  TargetSessionEvent,
  TargetSessionOptions,
} from '../../../protocol/session/target-types.js';
import { encodeText, type TextPair } from '../../../protocol/text/index.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';

/** The connection every single-connection test uses. */
export const CID = 1;
/** The first StatSN the connection sends. */
export const FIRST_STATSN = 100;

/** A normal session with ExpCmdSN 1 and a window of `queueDepth` (default 4). */
export function makeSession(overrides: Partial<TargetSessionOptions> = {}): {
  session: TargetSession;
  start: TargetSessionAction[];
} {
  const depth = overrides.queueDepth ?? 4;
  const session = new TargetSession({
    tsih: 7,
    isid: { type: 2, a: 0, b: 0x1234, c: 0x56, d: 1 },
    initiatorName: 'iqn.2024-01.test:initiator',
    targetName: 'iqn.2024-01.test:target',
    sessionType: 'Normal',
    portalGroupTag: 1,
    params: defaultNegotiatedParams(),
    transport: 'tcp',
    expCmdSN: 1,
    maxCmdSN: depth,
    queueDepth: depth,
    ...overrides,
  });
  const start = session.addConnection(CID, { statSN: FIRST_STATSN, local: { host: '127.0.0.1', port: 3260 } });
  return { session, start };
}

/** A SCSI Command PDU (READ-less, WRITE-less TEST UNIT READY unless told otherwise). */
export function command(fields: Partial<ScsiCommandPdu> & { cmdSN: number; itt: number }): ScsiCommandPdu {
  return {
    kind: 'scsi-command',
    immediate: false,
    final: true,
    read: false,
    write: false,
    attribute: 1,
    lun: 0n,
    expectedDataTransferLength: 0,
    expStatSN: 0,
    cdb: Buffer.alloc(16),
    data: [],
    ...fields,
  };
}

/** A 16-byte CDB of a READ(10)/WRITE(10)-style command: `opcode`, LBA 0, `blocks`. */
export function cdb10(opcode: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(16);
  cdb[0] = opcode;
  cdb.writeUInt16BE(blocks, 7);
  return cdb;
}

/** A NOP-Out. */
export function nopOut(fields: Partial<NopOutPdu>): NopOutPdu {
  return {
    kind: 'nop-out',
    immediate: true,
    lun: 0n,
    itt: RESERVED_TAG,
    ttt: RESERVED_TAG,
    cmdSN: 1,
    expStatSN: 0,
    data: [],
    ...fields,
  };
}

/** A task management request. */
export function tmf(fields: Partial<TaskManagementRequestPdu> & { function: number }): TaskManagementRequestPdu {
  return {
    kind: 'task-management-request',
    immediate: true,
    lun: 0n,
    itt: 0x1000,
    referencedTaskTag: RESERVED_TAG,
    cmdSN: 1,
    expStatSN: 0,
    refCmdSN: 0,
    expDataSN: 0,
    ...fields,
  };
}

/** A Text Request carrying `pairs`. */
export function textRequest(fields: Partial<TextRequestPdu> & { pairs?: readonly TextPair[] }): TextRequestPdu {
  const { pairs, ...rest } = fields;
  return {
    kind: 'text-request',
    immediate: true,
    final: true,
    continue: false,
    lun: 0n,
    itt: 0x2000,
    ttt: RESERVED_TAG,
    cmdSN: 1,
    expStatSN: 0,
    data: pairs === undefined ? [] : [encodeText(pairs)],
    ...rest,
  };
}

/** A Logout Request. */
export function logout(fields: Partial<LogoutRequestPdu>): LogoutRequestPdu {
  return {
    kind: 'logout-request',
    immediate: true,
    reason: 0,
    itt: 0x3000,
    cid: CID,
    cmdSN: 1,
    expStatSN: 0,
    ...fields,
  };
}

/** The PDUs sent, in order. */
export function sent(actions: readonly TargetSessionAction[]): TargetControlPdu[] {
  return actions.flatMap((a) => (a.type === 'send' ? [a.pdu] : []));
}

/** The PDUs of one kind sent, in order. */
export function sentOf<K extends TargetControlPdu['kind']>(
  actions: readonly TargetSessionAction[],
  kind: K,
): Extract<TargetControlPdu, { kind: K }>[] {
  return sent(actions).filter((p): p is Extract<TargetControlPdu, { kind: K }> => p.kind === kind);
}

/** The commands handed to the SCSI device, in order. */
export function executed(actions: readonly TargetSessionAction[]): ExecuteRequest[] {
  return actions.flatMap((a) => (a.type === 'execute' ? [a.request] : []));
}

/** Actions of one type. */
export function actionsOf<T extends TargetSessionAction['type']>(
  actions: readonly TargetSessionAction[],
  type: T,
): Extract<TargetSessionAction, { type: T }>[] {
  return actions.filter((a): a is Extract<TargetSessionAction, { type: T }> => a.type === type);
}

/** The events reported, in order. */
export function eventsOf(actions: readonly TargetSessionAction[]): TargetSessionEvent[] {
  return actions.flatMap((a) => (a.type === 'event' ? [a.event] : []));
}
