/**
 * tshark as an independent oracle for our encoders: one of every RFC 7143 PDU kind, written as a real TCP
 * conversation (Ethernet/IPv4/TCP to port 3260, consistent sequence numbers) into a pcapng, dissected by
 * Wireshark's iSCSI dissector, and every field it shows compared with the PDU object we encoded.
 *
 * Three connections: no digests; header and data digests (CRC32C) after login, as the protocol has them; and a
 * control connection with one corrupted header digest and one corrupted data digest, which proves tshark really
 * checks our digests (it prints "Good CRC32" / "Bad CRC32").
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AsyncEvent,
  dataDigest,
  encodeHeader,
  encodePdu,
  flatLun,
  headerDigest,
  isInitiatorOpcode,
  LogoutReason,
  LogoutResponse,
  lunFromNumber,
  opcodeOfKind,
  PDU_KINDS,
  RejectReason,
  ScsiStatus,
  SnackType,
  TaskAttribute,
  TaskManagementFunction,
  TaskManagementResponse,
  type DigestOptions,
  type Pdu,
  type PduKind,
} from '../../../protocol/pdu/index.js';
import { PcapngWriter } from '../../../sim/trace/pcapng.js';
import { TcpStreamSynth } from '../../../sim/trace/tcp-stream.js';
import { missing } from '../../support/tools.js';
import { DECODE_ISCSI_3260, field, runTshark, type TsharkPacket, type TsharkValue } from '../../support/tshark.js';

const SKIP = missing('tshark', 'apt-get install tshark');
const NO_DIGESTS: DigestOptions = { headerDigest: false, dataDigest: false };
const DIGESTS: DigestOptions = { headerDigest: true, dataDigest: true };
const ISID = { type: 2, a: 0, b: 0x1234, c: 0x56, d: 0x789a };
const READ_LUN = lunFromNumber(2); // peripheral addressing
const WRITE_LUN = flatLun(300); // flat space addressing

/** key=value pairs as a login/text data segment. */
function keys(...pairs: string[]): Buffer[] {
  return [Buffer.from(pairs.map((p) => `${p}\0`).join(''))];
}

/** Fixed-format sense data: CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB, behind its 2-byte length. */
const SENSE = Buffer.from('0012' + '700005000000000a00000000240000000000', 'hex');

const snack: Pdu = {
  kind: 'snack-request',
  type: SnackType.Status,
  lun: 0n,
  itt: 0xffffffff,
  ttt: 0xffffffff,
  expStatSN: 0x1c1,
  begRun: 0x1c2,
  runLength: 3,
};

/** A plausible session, one PDU of every kind (and a few twice), each field with a value of its own. */
const CONVERSATION: readonly Pdu[] = [
  {
    kind: 'login-request',
    transit: true,
    continue: false,
    currentStage: 1,
    nextStage: 3,
    versionMax: 0,
    versionMin: 0,
    isid: ISID,
    tsih: 0,
    itt: 0x10,
    cid: 0x0102,
    cmdSN: 0x11,
    expStatSN: 0x12,
    data: keys(
      'InitiatorName=iqn.2024-01.org.example:init',
      'TargetName=iqn.2024-01.org.example:disk',
      'SessionType=Normal',
      'HeaderDigest=CRC32C,None',
      'DataDigest=CRC32C,None',
      'MaxRecvDataSegmentLength=65536',
    ),
  },
  {
    kind: 'login-response',
    transit: true,
    continue: false,
    currentStage: 1,
    nextStage: 3,
    versionMax: 0,
    versionActive: 0,
    isid: ISID,
    tsih: 0x2a,
    itt: 0x10,
    statSN: 0x20,
    expCmdSN: 0x11,
    maxCmdSN: 0x50,
    statusClass: 0,
    statusDetail: 0,
    data: keys('HeaderDigest=CRC32C', 'DataDigest=CRC32C', 'MaxRecvDataSegmentLength=262144', 'TargetPortalGroupTag=1'),
  },
  {
    kind: 'nop-out',
    immediate: true,
    lun: 0n,
    itt: 0x30,
    ttt: 0xffffffff,
    cmdSN: 0x11,
    expStatSN: 0x21,
    data: [Buffer.from('are you there?')],
  },
  {
    kind: 'nop-in',
    lun: 0n,
    itt: 0x30,
    ttt: 0xffffffff,
    statSN: 0x21,
    expCmdSN: 0x11,
    maxCmdSN: 0x51,
    data: [Buffer.from('are you there?')],
  },
  {
    kind: 'text-request',
    immediate: false,
    final: true,
    continue: false,
    lun: 0n,
    itt: 0x40,
    ttt: 0xffffffff,
    cmdSN: 0x11,
    expStatSN: 0x22,
    data: keys('SendTargets=All'),
  },
  {
    kind: 'text-response',
    final: true,
    continue: false,
    lun: 0n,
    itt: 0x40,
    ttt: 0xffffffff,
    statSN: 0x22,
    expCmdSN: 0x12,
    maxCmdSN: 0x52,
    data: keys('TargetName=iqn.2024-01.org.example:disk', 'TargetAddress=127.0.0.1:3260,1'),
  },
  {
    kind: 'scsi-command',
    immediate: false,
    final: true,
    read: true,
    write: false,
    attribute: TaskAttribute.Simple,
    lun: READ_LUN,
    itt: 0x50,
    expectedDataTransferLength: 3000,
    cmdSN: 0x12,
    expStatSN: 0x23,
    cdb: Buffer.from('28000000001000000600000000000000', 'hex'),
    data: [],
  },
  {
    // Large enough to span three TCP segments: tshark has to reassemble it.
    kind: 'scsi-data-in',
    final: true,
    acknowledge: false,
    residualOverflow: false,
    residualUnderflow: true,
    statusPresent: true,
    status: ScsiStatus.Good,
    lun: 0n,
    itt: 0x50,
    ttt: 0xffffffff,
    statSN: 0x23,
    expCmdSN: 0x13,
    maxCmdSN: 0x53,
    dataSN: 0,
    bufferOffset: 0,
    residualCount: 72,
    data: [Buffer.alloc(1500, 0xa5), Buffer.alloc(1428, 0x5a)],
  },
  {
    // A 32-byte CDB: the last 16 bytes travel in an Extended-CDB AHS; a bidirectional read length in its AHS.
    kind: 'scsi-command',
    immediate: false,
    final: false,
    read: true,
    write: true,
    attribute: TaskAttribute.Ordered,
    lun: WRITE_LUN,
    itt: 0x60,
    expectedDataTransferLength: 8,
    cmdSN: 0x13,
    expStatSN: 0x24,
    cdb: Buffer.from('7f000000000000180009000000000000000000010000000000000000000000001', 'hex').subarray(0, 32),
    bidirectionalReadLength: 0x400,
    data: [Buffer.from('imm!')],
  },
  {
    kind: 'r2t',
    lun: WRITE_LUN,
    itt: 0x60,
    ttt: 0x61,
    statSN: 0x24,
    expCmdSN: 0x14,
    maxCmdSN: 0x54,
    r2tSN: 0,
    bufferOffset: 4,
    desiredDataTransferLength: 4,
  },
  {
    kind: 'scsi-data-out',
    final: true,
    lun: WRITE_LUN,
    itt: 0x60,
    ttt: 0x61,
    expStatSN: 0x25,
    dataSN: 0,
    bufferOffset: 4,
    data: [Buffer.from('data')],
  },
  {
    kind: 'scsi-response',
    bidirectionalReadResidualOverflow: false,
    bidirectionalReadResidualUnderflow: true,
    residualOverflow: false,
    residualUnderflow: true,
    response: 0,
    status: ScsiStatus.CheckCondition,
    itt: 0x60,
    snackTag: 0,
    statSN: 0x25,
    expCmdSN: 0x14,
    maxCmdSN: 0x54,
    expDataSN: 1,
    bidirectionalReadResidualCount: 5,
    residualCount: 6,
    data: [SENSE],
  },
  {
    kind: 'task-management-request',
    immediate: true,
    function: TaskManagementFunction.AbortTask,
    lun: READ_LUN,
    itt: 0x70,
    referencedTaskTag: 0x50,
    cmdSN: 0x14,
    expStatSN: 0x26,
    refCmdSN: 0x12,
    expDataSN: 0,
  },
  {
    kind: 'task-management-response',
    response: TaskManagementResponse.TaskDoesNotExist,
    itt: 0x70,
    statSN: 0x26,
    expCmdSN: 0x14,
    maxCmdSN: 0x54,
  },
  snack,
  {
    kind: 'reject',
    reason: RejectReason.ProtocolError,
    statSN: 0x27,
    expCmdSN: 0x14,
    maxCmdSN: 0x54,
    dataSN: 0,
    data: [encodeHeader(snack)],
  },
  {
    kind: 'async-message',
    lun: 0n,
    statSN: 0x28,
    expCmdSN: 0x14,
    maxCmdSN: 0x54,
    asyncEvent: AsyncEvent.LogoutRequest,
    asyncVCode: 0,
    parameter1: 0,
    parameter2: 0,
    parameter3: 30,
    data: [],
  },
  {
    kind: 'logout-request',
    immediate: true,
    reason: LogoutReason.CloseSession,
    itt: 0x80,
    cid: 0x0102,
    cmdSN: 0x14,
    expStatSN: 0x29,
  },
  {
    kind: 'logout-response',
    response: LogoutResponse.ClosedSuccessfully,
    itt: 0x80,
    statSN: 0x29,
    expCmdSN: 0x15,
    maxCmdSN: 0x55,
    time2Wait: 2,
    time2Retain: 20,
  },
];

/** Digests are negotiated during login, so the login PDUs themselves never carry them. */
function digestsFor(pdu: Pdu, negotiated: DigestOptions): DigestOptions {
  return pdu.kind === 'login-request' || pdu.kind === 'login-response' ? NO_DIGESTS : negotiated;
}

/** One TCP connection carrying `pdus` (initiator PDUs to port 3260, target PDUs back), one PDU per send. */
function connection(port: number, pdus: readonly (readonly Buffer[])[], senders: readonly PduKind[], startMs: number) {
  const tcp = new TcpStreamSynth({ a: { ip: '127.0.0.1', port }, b: { ip: '127.0.0.2', port: 3260 } });
  const frames = tcp.open(startMs);
  pdus.forEach((chunks, i) => {
    const kind = senders[i]!;
    frames.push(...tcp.send(isInitiatorOpcode(opcodeOfKind(kind)) ? 'a->b' : 'b->a', chunks, startMs + i + 1, kind));
  });
  frames.push(...tcp.close(startMs + pdus.length + 1));
  return frames;
}

/** Expected tshark fields of a PDU: numbers compare numerically, booleans as 1/0, byte strings as colon hex. */
type Expected = Record<string, number | boolean | string | readonly string[]>;

const hexBytes = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
const keyValues = (data: readonly Buffer[]): string[] =>
  Buffer.concat(data)
    .toString('latin1')
    .split('\0')
    .filter((s) => s !== '');
const dataLength = (pdu: Pdu): number => ('data' in pdu ? Buffer.concat(pdu.data).length : 0);

/** tshark shows only a LUN's first level: the address method and the 14-bit (flat) or 8-bit (peripheral) number. */
function lunFields(lun: bigint): Expected {
  const firstLevel = Number(lun >> 48n);
  return { 'scsi.lun.address_mode': firstLevel >>> 14, 'scsi.lun': firstLevel & 0x3fff };
}

function targetSequence(p: { statSN: number; expCmdSN: number; maxCmdSN: number }): Expected {
  return { 'iscsi.statsn': p.statSN, 'iscsi.expcmdsn': p.expCmdSN, 'iscsi.maxcmdsn': p.maxCmdSN };
}

/** What Wireshark's iSCSI dissector must show for each PDU, by its own field names. */
function expectedFields(pdu: Pdu): Expected {
  const common: Expected = {
    'iscsi.opcode': opcodeOfKind(pdu.kind),
    'iscsi.datasegmentlength': dataLength(pdu),
  };
  switch (pdu.kind) {
    case 'login-request':
    case 'login-response': {
      const loginCommon: Expected = {
        ...common,
        'iscsi.login.T': pdu.transit,
        'iscsi.login.C': pdu.continue,
        'iscsi.login.csg': pdu.currentStage,
        'iscsi.login.nsg': pdu.nextStage,
        'iscsi.versionmax': pdu.versionMax,
        'iscsi.isid.t': pdu.isid.type,
        'iscsi.isid.a': pdu.isid.a,
        'iscsi.isid.b': pdu.isid.b,
        'iscsi.isid.c': pdu.isid.c,
        'iscsi.isid.d': pdu.isid.d,
        'iscsi.tsih': pdu.tsih,
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.keyvalue': keyValues(pdu.data),
      };
      return pdu.kind === 'login-request'
        ? {
            ...loginCommon,
            'iscsi.versionmin': pdu.versionMin,
            'iscsi.cid': pdu.cid,
            'iscsi.cmdsn': pdu.cmdSN,
            'iscsi.expstatsn': pdu.expStatSN,
          }
        : {
            ...loginCommon,
            'iscsi.versionactive': pdu.versionActive,
            ...targetSequence(pdu),
            'iscsi.login.status': (pdu.statusClass << 8) | pdu.statusDetail,
          };
    }
    case 'nop-out':
      return {
        ...common,
        'iscsi.I': pdu.immediate,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.targettransfertag': pdu.ttt,
        'iscsi.cmdsn': pdu.cmdSN,
        'iscsi.expstatsn': pdu.expStatSN,
        'iscsi.pingdata': hexBytes(Buffer.concat(pdu.data)),
      };
    case 'nop-in':
      return {
        ...common,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.targettransfertag': pdu.ttt,
        ...targetSequence(pdu),
        'iscsi.pingdata': hexBytes(Buffer.concat(pdu.data)),
      };
    case 'text-request':
      return {
        ...common,
        'iscsi.I': pdu.immediate,
        'iscsi.text.F': pdu.final,
        'iscsi.text.C': pdu.continue,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.targettransfertag': pdu.ttt,
        'iscsi.cmdsn': pdu.cmdSN,
        'iscsi.expstatsn': pdu.expStatSN,
        'iscsi.keyvalue': keyValues(pdu.data),
      };
    case 'text-response':
      return {
        ...common,
        'iscsi.text.F': pdu.final,
        'iscsi.text.C': pdu.continue,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.targettransfertag': pdu.ttt,
        ...targetSequence(pdu),
        'iscsi.keyvalue': keyValues(pdu.data),
      };
    case 'scsi-command': {
      const extended = pdu.cdb.length > 16 ? pdu.cdb.subarray(16) : undefined;
      const ahs: Expected =
        extended === undefined
          ? { 'iscsi.totalahslength': 0 }
          : {
              'iscsi.totalahslength': 7, // 20 bytes of Extended CDB AHS + 8 of bidirectional AHS, in words
              'iscsi.ahs.type': ['1', '2'],
              'iscsi.ahs.length': [String(extended.length + 1), '5'],
              'iscsi.ahs.extended_cdb': hexBytes(extended),
              'iscsi.ahs.bidir.length': pdu.bidirectionalReadLength ?? 0,
            };
      return {
        ...common,
        ...ahs,
        'iscsi.I': pdu.immediate,
        'iscsi.scsicommand.F': pdu.final,
        'iscsi.scsicommand.R': pdu.read,
        'iscsi.scsicommand.W': pdu.write,
        'iscsi.scsicommand.attr': pdu.attribute,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.scsicommand.expecteddatatransferlength': pdu.expectedDataTransferLength,
        'iscsi.cmdsn': pdu.cmdSN,
        'iscsi.expstatsn': pdu.expStatSN,
        ...(dataLength(pdu) > 0 && { 'iscsi.immediatedata': hexBytes(Buffer.concat(pdu.data)) }),
      };
    }
    case 'scsi-data-in':
      return {
        ...common,
        'iscsi.scsidata.F': pdu.final,
        'iscsi.scsidata.A': pdu.acknowledge,
        'iscsi.scsidata.O': pdu.residualOverflow,
        'iscsi.scsidata.U': pdu.residualUnderflow,
        'iscsi.scsidata.S': pdu.statusPresent,
        'iscsi.scsiresponse.status': pdu.status,
        'iscsi.initiatortasktag': pdu.itt,
        ...targetSequence(pdu),
        'iscsi.datasn': pdu.dataSN,
        'iscsi.bufferOffset': pdu.bufferOffset,
        'iscsi.scsidata.readresidualcount': pdu.residualCount,
      };
    case 'scsi-data-out':
      return {
        ...common,
        'iscsi.scsidata.F': pdu.final,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.targettransfertag': pdu.ttt,
        'iscsi.expstatsn': pdu.expStatSN,
        'iscsi.datasn': pdu.dataSN,
        'iscsi.bufferOffset': pdu.bufferOffset,
        'data.data': hexBytes(Buffer.concat(pdu.data)),
      };
    case 'r2t':
      return {
        ...common,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.targettransfertag': pdu.ttt,
        ...targetSequence(pdu),
        'iscsi.r2tsn': pdu.r2tSN,
        'iscsi.bufferOffset': pdu.bufferOffset,
        'iscsi.desireddatalength': pdu.desiredDataTransferLength,
      };
    case 'scsi-response':
      return {
        ...common,
        'iscsi.scsiresponse.o': pdu.bidirectionalReadResidualOverflow,
        'iscsi.scsiresponse.u': pdu.bidirectionalReadResidualUnderflow,
        'iscsi.scsiresponse.O': pdu.residualOverflow,
        'iscsi.scsiresponse.U': pdu.residualUnderflow,
        'iscsi.scsiresponse.response': pdu.response,
        'iscsi.scsiresponse.status': pdu.status,
        'iscsi.initiatortasktag': pdu.itt,
        ...targetSequence(pdu),
        'iscsi.expdatasn': pdu.expDataSN,
        'iscsi.scsiresponse.bidireadresidualcount': pdu.bidirectionalReadResidualCount,
        'iscsi.scsiresponse.residualcount': pdu.residualCount,
        'iscsi.scsiresponse.senselength': Buffer.concat(pdu.data).readUInt16BE(0),
        // tshark hands the sense data to its SCSI dissector: our bytes, read by a second dissector.
        'scsi.sns.key': 0x05,
        'scsi.sns.asc': 0x24,
      };
    case 'task-management-request':
      return {
        ...common,
        'iscsi.I': pdu.immediate,
        'iscsi.taskmanfun.function': pdu.function,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.taskmanfun.referencedtasktag': pdu.referencedTaskTag,
        'iscsi.cmdsn': pdu.cmdSN,
        'iscsi.expstatsn': pdu.expStatSN,
        'iscsi.refcmdsn': pdu.refCmdSN,
      };
    case 'task-management-response':
      // tshark takes the DataSegmentLength of a TMF Response as 0 without showing it.
      return {
        'iscsi.opcode': opcodeOfKind(pdu.kind),
        'iscsi.taskmanfun.response': pdu.response,
        'iscsi.initiatortasktag': pdu.itt,
        ...targetSequence(pdu),
      };
    case 'logout-request':
      return {
        ...common,
        'iscsi.I': pdu.immediate,
        'iscsi.logout.reason': pdu.reason,
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.cid': pdu.cid,
        'iscsi.cmdsn': pdu.cmdSN,
        'iscsi.expstatsn': pdu.expStatSN,
      };
    case 'logout-response':
      return {
        ...common,
        'iscsi.logout.response': pdu.response,
        'iscsi.initiatortasktag': pdu.itt,
        ...targetSequence(pdu),
        'iscsi.time2wait': pdu.time2Wait,
        'iscsi.time2retain': pdu.time2Retain,
      };
    case 'snack-request':
      return {
        ...common,
        'iscsi.snack.type': pdu.type,
        ...lunFields(pdu.lun),
        'iscsi.initiatortasktag': pdu.itt,
        'iscsi.targettransfertag': pdu.ttt,
        'iscsi.expstatsn': pdu.expStatSN,
        'iscsi.snack.begrun': pdu.begRun,
        'iscsi.snack.runlength': pdu.runLength,
      };
    case 'async-message':
      return {
        ...common,
        ...lunFields(pdu.lun),
        ...targetSequence(pdu),
        'iscsi.asyncevent': pdu.asyncEvent,
        'iscsi.eventvendorcode': pdu.asyncVCode,
        'iscsi.parameter1': pdu.parameter1,
        'iscsi.parameter2': pdu.parameter2,
        'iscsi.parameter3': pdu.parameter3,
      };
    case 'reject':
      return { ...common, 'iscsi.reject.reason': pdu.reason, ...targetSequence(pdu), 'iscsi.datasn': pdu.dataSN };
  }
}

/** Every value of `name` under `tree`, optionally leaving out the subtree under key `skip`. */
function valuesIn(tree: TsharkValue, name: string, skip?: string): string[] {
  const out: string[] = [];
  const walk = (value: TsharkValue, matched: boolean): void => {
    if (typeof value === 'string') {
      if (matched) out.push(value);
    } else if (Array.isArray(value)) {
      for (const v of value as readonly TsharkValue[]) walk(v, matched);
    } else {
      for (const [k, v] of Object.entries(value as Record<string, TsharkValue>)) if (k !== skip) walk(v, k === name);
    }
  };
  walk(tree, false);
  return out;
}

const REJECTED_HEADER = 'Rejected Header';

/** Every value of `name` in the packet, leaving out the copy of a rejected header (a PDU of its own). */
function valuesOf(pkt: TsharkPacket, name: string): string[] {
  return valuesIn(pkt.layers, name, REJECTED_HEADER);
}

/** The rejected header tshark dissected inside a Reject. */
function rejectedHeader(pkt: TsharkPacket): TsharkValue {
  const iscsi = pkt.layers.iscsi;
  const inner =
    iscsi !== undefined && typeof iscsi === 'object' && !Array.isArray(iscsi)
      ? (iscsi as Record<string, TsharkValue>)[REJECTED_HEADER]
      : undefined;
  if (inner === undefined) throw new Error('tshark shows no rejected header');
  return inner;
}

/** Compares tshark's shown values with ours, returning one line per mismatch. */
function mismatches(pkt: TsharkPacket, expected: Expected): string[] {
  const problems: string[] = [];
  for (const [name, want] of Object.entries(expected)) {
    const got = valuesOf(pkt, name);
    if (Array.isArray(want)) {
      if (JSON.stringify(got) !== JSON.stringify(want))
        problems.push(`${name}: tshark ${JSON.stringify(got)}, ours ${JSON.stringify(want)}`);
      continue;
    }
    const first = got[0];
    const ok =
      first !== undefined &&
      (typeof want === 'boolean'
        ? first === (want ? '1' : '0')
        : typeof want === 'number'
          ? Number(first) === want
          : first === want);
    if (!ok) problems.push(`${name}: tshark ${JSON.stringify(got)}, ours ${JSON.stringify(want)}`);
  }
  return problems;
}

/** A 32-bit digest as tshark shows it: the four wire bytes (least-significant first) read big-endian. */
function asTsharkShowsDigest(digest: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(digest, 0);
  return b.readUInt32BE(0);
}

const PORT_PLAIN = 40001;
const PORT_DIGESTS = 40002;
const PORT_CORRUPT = 40003;

describe.skipIf(SKIP)('tshark dissects our PDUs exactly as we encoded them', () => {
  let dir = '';
  let pcapPath = '';
  let packets: TsharkPacket[] = [];
  let text = '';

  /** Packets of one connection that carry an iSCSI PDU, in order. */
  const iscsiPackets = (port: number): TsharkPacket[] =>
    packets.filter(
      (p) => p.layers.iscsi !== undefined && [field(p, 'tcp.srcport'), field(p, 'tcp.dstport')].includes(String(port)),
    );

  beforeAll(async () => {
    const senders = CONVERSATION.map((p) => p.kind);
    const plain = CONVERSATION.map((p) => encodePdu(p, NO_DIGESTS));
    const digested = CONVERSATION.map((p) => encodePdu(p, digestsFor(p, DIGESTS)));
    // Control: the NOP-In (after a good NOP-Out, so tshark has settled on header digests) with a bad header digest,
    // and the text request with a bad data digest.
    const corrupt = digested.map((chunks) => chunks.map((c) => Buffer.from(c)));
    const nopIn = corrupt[3]!;
    nopIn[0]![48] = nopIn[0]![48]! ^ 0xff;
    const text4 = corrupt[4]!;
    const trailer = text4[text4.length - 1]!;
    trailer[trailer.length - 1] = trailer[trailer.length - 1]! ^ 0xff;

    const pcap = new PcapngWriter('iser test/protocol/pdu/tshark.test.ts');
    pcap.addFrames(connection(PORT_PLAIN, plain, senders, 0));
    pcap.addFrames(connection(PORT_DIGESTS, digested, senders, 100));
    pcap.addFrames(connection(PORT_CORRUPT, corrupt.slice(0, 6), senders, 200));
    dir = await mkdtemp(join(tmpdir(), 'iser-pdu-tshark-'));
    pcapPath = join(dir, 'every-pdu.pcapng');
    await writeFile(pcapPath, pcap.toBuffer());
    packets = await runTshark(pcapPath, { decodeAs: [DECODE_ISCSI_3260] });
    // tshark shows whether a digest verified only in its text output ("Good CRC32" / "Bad CRC32").
    const run = await promisify(execFile)('tshark', ['-r', pcapPath, '-d', DECODE_ISCSI_3260, '-O', 'iscsi'], {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    text = run.stdout;
  }, 60_000);

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('covers every PDU kind', () => {
    expect(new Set(CONVERSATION.map((p) => p.kind))).toEqual(new Set(PDU_KINDS));
  });

  it.each([
    ['without digests', PORT_PLAIN],
    ['with header and data digests', PORT_DIGESTS],
  ])('finds each PDU %s, in order, with every field as we encoded it', (_name, port) => {
    const seen = iscsiPackets(port);
    expect(seen.map((p) => Number(valuesOf(p, 'iscsi.opcode')[0]))).toEqual(
      CONVERSATION.map((p) => opcodeOfKind(p.kind)),
    );
    const problems = seen.flatMap((pkt, i) =>
      mismatches(pkt, expectedFields(CONVERSATION[i]!)).map((m) => `${CONVERSATION[i]!.kind}: ${m}`),
    );
    expect(problems).toEqual([]);
    // Nothing tshark could not make sense of.
    expect(
      seen.filter((p) => p.layers._ws !== undefined || JSON.stringify(p.layers).includes('_ws.malformed')),
    ).toEqual([]);
  });

  it('reads the rejected header inside the Reject as the SNACK we copied there', () => {
    for (const port of [PORT_PLAIN, PORT_DIGESTS]) {
      const reject = iscsiPackets(port).find((p) => valuesOf(p, 'iscsi.opcode')[0] === '0x3f')!;
      const inner = rejectedHeader(reject);
      expect(valuesIn(inner, 'iscsi.opcode')).toEqual(['0x10']);
      expect(valuesIn(inner, 'iscsi.initiatortasktag').map(Number)).toEqual([snack.itt]);
      expect(valuesIn(inner, 'iscsi.snack.begrun').map(Number)).toEqual([0x1c2]);
      expect(valuesIn(inner, 'iscsi.snack.runlength').map(Number)).toEqual([3]);
    }
  });

  it('reassembles the Data-In that spans several TCP segments', () => {
    const dataIn = iscsiPackets(PORT_PLAIN).find((p) => valuesOf(p, 'iscsi.opcode')[0] === '0x25')!;
    expect(Number(field(dataIn, 'tcp.reassembled.length'))).toBe(48 + 2928);
  });

  it('shows our header and data digest values, and no digest where none was negotiated', () => {
    expect(
      iscsiPackets(PORT_PLAIN).flatMap((p) => [
        ...valuesOf(p, 'iscsi.headerdigest32'),
        ...valuesOf(p, 'iscsi.datadigest32'),
      ]),
    ).toEqual([]);
    const seen = iscsiPackets(PORT_DIGESTS);
    CONVERSATION.forEach((pdu, i) => {
      const pkt = seen[i]!;
      const digests = digestsFor(pdu, DIGESTS);
      const header = encodeHeader(pdu);
      expect(valuesOf(pkt, 'iscsi.headerdigest32').map(Number), pdu.kind).toEqual(
        digests.headerDigest ? [asTsharkShowsDigest(headerDigest(header))] : [],
      );
      const data = 'data' in pdu ? pdu.data : [];
      const expected = digests.dataDigest && dataLength(pdu) > 0 ? [asTsharkShowsDigest(dataDigest(data))] : [];
      if (pdu.kind === 'reject') {
        // tshark dissects a Reject's data as a PDU header of its own and so shows our data digest as that header's
        // digest. (They agree: a 48-byte data segment has no padding, so its digest is the header's.)
        expect(valuesIn(rejectedHeader(pkt), 'iscsi.headerdigest32').map(Number)).toEqual(expected);
      } else {
        expect(valuesOf(pkt, 'iscsi.datadigest32').map(Number), pdu.kind).toEqual(expected);
      }
    });
  });

  it('verifies every digest we sent as Good CRC32, and catches the two we corrupted', () => {
    const digested = CONVERSATION.filter((p) => digestsFor(p, DIGESTS).headerDigest);
    const sentGood = digested.length + digested.filter((p) => dataLength(p) > 0).length;
    const connections = text.split(/\n(?=Frame \d+:)/);
    const onPort = (port: number) =>
      connections.filter((f) => f.includes(`Src Port: ${port},`) || f.includes(`Dst Port: ${port}`)).join('\n');
    expect(onPort(PORT_DIGESTS).match(/\(Good CRC32\)/g)?.length).toBe(sentGood);
    expect(onPort(PORT_DIGESTS)).not.toContain('Bad CRC32');
    const corrupt = onPort(PORT_CORRUPT);
    expect(corrupt.match(/HeaderDigest: 0x[0-9a-f]{8} \(Bad CRC32/g)).toHaveLength(1);
    expect(corrupt.match(/DataDigest: 0x[0-9a-f]{8} \(Bad CRC32/g)).toHaveLength(1);
  });
});
