/**
 * Drives the initiator's session machine directly with scripted target PDUs: a scripted target keeps StatSN and
 * the window, builds responses, and the helpers pick actions apart.
 */
import type { InitiatorLoginResult } from '../../../protocol/login/initiator-login.js';
import { RESERVED_TAG } from '../../../protocol/pdu/constants.js';
import type {
  AsyncMessagePdu,
  InitiatorPdu,
  LogoutResponsePdu,
  NopInPdu,
  RejectPdu,
  ScsiCommandPdu,
  ScsiResponsePdu,
  TaskManagementResponsePdu,
  TextResponsePdu,
} from '../../../protocol/pdu/index.js';
import { encodeSense, senseData } from '../../../protocol/scsi/sense.js';
import { InitiatorSession, type InitiatorSessionOptions } from '../../../protocol/session/initiator-session.js';
import type {
  InitiatorSessionAction,
  RequestOutcome,
  SessionEvent,
  SessionTimer,
} from '../../../protocol/session/initiator-types.js';
import type { NegotiatedParams } from '../../../protocol/text/index.js';

/** What a login negotiates when neither side asks for anything (RFC 7143 defaults), with overrides. */
export function negotiatedParams(overrides: Partial<NegotiatedParams> = {}): NegotiatedParams {
  return {
    sessionType: 'Normal',
    initiatorName: 'iqn.2024-01.test:initiator',
    initiatorAlias: undefined,
    targetName: 'iqn.2024-01.test:target',
    targetAlias: undefined,
    targetAddress: undefined,
    targetPortalGroupTag: 1,
    headerDigest: 'None',
    dataDigest: 'None',
    maxConnections: 1,
    initialR2T: true,
    immediateData: true,
    maxRecvDataSegmentLength: { initiator: 8192, target: 8192 },
    maxBurstLength: 262144,
    firstBurstLength: 65536,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    maxOutstandingR2T: 1,
    dataPduInOrder: true,
    dataSequenceInOrder: true,
    errorRecoveryLevel: 0,
    taskReporting: 'RFC3720',
    iscsiProtocolLevel: 1,
    rdmaExtensions: false,
    initiatorRecvDataSegmentLength: 8192,
    targetRecvDataSegmentLength: 8192,
    maxOutstandingUnexpectedPdus: { initiator: 0, target: 0 },
    maxAhsLength: 256,
    taggedBufferForSolicitedDataOnly: false,
    iserHelloRequired: false,
    nodeArchitecture: { initiator: undefined, target: undefined },
    ...overrides,
  };
}

/** A login result with the given numbers and parameters. */
export function loginResult(
  overrides: Partial<Omit<InitiatorLoginResult, 'params'>> & { params?: Partial<NegotiatedParams> } = {},
): InitiatorLoginResult {
  const { params, ...rest } = overrides;
  return {
    params: negotiatedParams(params),
    tsih: 7,
    statSN: 100,
    expCmdSN: 10,
    maxCmdSN: 17,
    cmdSN: 10,
    targetPortalGroupTag: 1,
    authMethod: 'None',
    targetAuthenticated: false,
    warnings: [],
    ...rest,
  };
}

/** The session machine plus a scripted target. */
export class Harness {
  readonly session: InitiatorSession;
  /** The StatSN the target gives its next status. */
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;

  constructor(
    options: InitiatorSessionOptions = {},
    login: InitiatorLoginResult = loginResult(),
    transport: 'tcp' | 'iser' = 'tcp',
  ) {
    this.session = new InitiatorSession({ login, transport, options });
    this.statSN = (login.statSN + 1) >>> 0;
    this.expCmdSN = login.expCmdSN;
    this.maxCmdSN = login.maxCmdSN;
  }

  /** The target's numbers for its next status, consuming a StatSN. */
  status(): { statSN: number; expCmdSN: number; maxCmdSN: number } {
    const statSN = this.statSN;
    this.statSN = (this.statSN + 1) >>> 0;
    return { statSN, expCmdSN: this.expCmdSN, maxCmdSN: this.maxCmdSN };
  }

  /** A SCSI Response for `itt`. */
  response(itt: number, fields: Partial<ScsiResponsePdu> = {}): ScsiResponsePdu {
    return {
      kind: 'scsi-response',
      bidirectionalReadResidualOverflow: false,
      bidirectionalReadResidualUnderflow: false,
      residualOverflow: false,
      residualUnderflow: false,
      response: 0,
      status: 0,
      itt,
      snackTag: 0,
      expDataSN: 0,
      bidirectionalReadResidualCount: 0,
      residualCount: 0,
      data: [],
      ...this.status(),
      ...fields,
    };
  }

  /** A CHECK CONDITION response with fixed-format sense. */
  checkCondition(itt: number, key: number, asc: number, ascq: number): ScsiResponsePdu {
    const sense = encodeSense(senseData({ key, asc, ascq }));
    const length = Buffer.alloc(2);
    length.writeUInt16BE(sense.length);
    return this.response(itt, { status: 0x02, data: [length, sense] });
  }

  /** A NOP-In: an answer to our ping (`itt`), or the target's own (ITT reserved). StatSN only advances for answers. */
  nopIn(itt: number, ttt: number = RESERVED_TAG, data: Buffer[] = [], lun = 0n): NopInPdu {
    const numbers =
      itt === RESERVED_TAG ? { statSN: this.statSN, expCmdSN: this.expCmdSN, maxCmdSN: this.maxCmdSN } : this.status();
    return { kind: 'nop-in', lun, itt, ttt, data, ...numbers };
  }

  /** A TMF response. */
  tmfResponse(itt: number, response: number): TaskManagementResponsePdu {
    return { kind: 'task-management-response', response, itt, ...this.status() };
  }

  /** A text response. */
  textResponse(itt: number, fields: Partial<TextResponsePdu>): TextResponsePdu {
    return {
      kind: 'text-response',
      final: true,
      continue: false,
      lun: 0n,
      itt,
      ttt: RESERVED_TAG,
      data: [],
      ...this.status(),
      ...fields,
    };
  }

  /** A logout response. */
  logoutResponse(itt: number, response = 0): LogoutResponsePdu {
    return { kind: 'logout-response', response, itt, time2Wait: 2, time2Retain: 20, ...this.status() };
  }

  /** An Async Message. */
  asyncMessage(fields: Partial<AsyncMessagePdu>): AsyncMessagePdu {
    return {
      kind: 'async-message',
      lun: 0n,
      asyncEvent: 0,
      asyncVCode: 0,
      parameter1: 0,
      parameter2: 0,
      parameter3: 0,
      data: [],
      ...this.status(),
      ...fields,
    };
  }

  /** A Reject carrying the header of a PDU with `opcode` and `itt`. */
  reject(opcode: number, itt: number, reason: number): RejectPdu {
    const header = Buffer.alloc(48);
    header[0] = opcode;
    header.writeUInt32BE(itt, 16);
    return { kind: 'reject', reason, dataSN: 0, data: [header], ...this.status() };
  }
}

/** The PDUs sent by `send` actions. */
export function sent(actions: readonly InitiatorSessionAction[]): InitiatorPdu[] {
  const out: InitiatorPdu[] = [];
  for (const a of actions) if (a.type === 'send' || a.type === 'send-command') out.push(a.pdu);
  return out;
}

/** The SCSI Command PDUs sent. */
export function commands(actions: readonly InitiatorSessionAction[]): ScsiCommandPdu[] {
  return actions.flatMap((a) => (a.type === 'send-command' ? [a.pdu] : []));
}

/** The one PDU of `kind` sent; throws unless exactly one. */
export function onlySent<K extends InitiatorPdu['kind']>(
  actions: readonly InitiatorSessionAction[],
  kind: K,
): Extract<InitiatorPdu, { kind: K }> {
  const matching = sent(actions).filter((p): p is Extract<InitiatorPdu, { kind: K }> => p.kind === kind);
  if (matching.length !== 1) throw new Error(`expected one ${kind}, got ${matching.length}`);
  return matching[0]!;
}

/** Outcomes of `complete` actions by request id. */
export function completions(actions: readonly InitiatorSessionAction[]): Map<number, RequestOutcome> {
  const map = new Map<number, RequestOutcome>();
  for (const a of actions) if (a.type === 'complete') map.set(a.id, a.outcome);
  return map;
}

/** Errors of `fail` actions by request id. */
export function failures(actions: readonly InitiatorSessionAction[]): Map<number, Error> {
  const map = new Map<number, Error>();
  for (const a of actions) if (a.type === 'fail') map.set(a.id, a.error);
  return map;
}

/** Timers armed, with their delays. */
export function armed(actions: readonly InitiatorSessionAction[]): Map<SessionTimer, number> {
  const map = new Map<SessionTimer, number>();
  for (const a of actions) if (a.type === 'arm-timer') map.set(a.timer, a.ms);
  return map;
}

/** Timers cancelled. */
export function cancelled(actions: readonly InitiatorSessionAction[]): Set<SessionTimer> {
  return new Set(actions.flatMap((a) => (a.type === 'cancel-timer' ? [a.timer] : [])));
}

/** Events reported. */
export function events(actions: readonly InitiatorSessionAction[]): SessionEvent[] {
  return actions.flatMap((a) => (a.type === 'event' ? [a.event] : []));
}

/** A read request of `length` bytes on LUN 0. */
export function readRequest(length: number, lun = 0n): { lun: bigint; cdb: Buffer; readLength: number } {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x28;
  return { lun, cdb, readLength: length };
}

/** A write request of `data` on LUN 0. */
export function writeRequest(data: Buffer, lun = 0n): { lun: bigint; cdb: Buffer; writeData: Buffer[] } {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x2a;
  return { lun, cdb, writeData: [data] };
}
