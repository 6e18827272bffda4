/** One line per PDU for reports: its kind and the fields that sequencing and task checks look at. */
import type { Pdu } from '../../protocol/pdu/pdu.js';
import { decodeText } from '../../protocol/text/codec.js';
import { chunksLength } from '../../protocol/pdu/encode.js';

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Fields worth printing, in this order, when the PDU has them. */
const NUMBERED: readonly (readonly [string, string, (n: number) => string])[] = [
  ['itt', 'ITT', hex],
  ['ttt', 'TTT', hex],
  ['referencedTaskTag', 'RTT', hex],
  ['cmdSN', 'CmdSN', String],
  ['expStatSN', 'ExpStatSN', String],
  ['statSN', 'StatSN', String],
  ['expCmdSN', 'ExpCmdSN', String],
  ['maxCmdSN', 'MaxCmdSN', String],
  ['dataSN', 'DataSN', String],
  ['r2tSN', 'R2TSN', String],
  ['bufferOffset', 'Offset', String],
  ['desiredDataTransferLength', 'DDTL', String],
  ['expectedDataTransferLength', 'EDTL', String],
  ['function', 'Function', String],
  ['response', 'Response', hex],
  ['status', 'Status', hex],
  ['residualCount', 'Residual', String],
  ['reason', 'Reason', hex],
];

function textOf(data: readonly Buffer[]): string {
  try {
    const pairs = decodeText(Buffer.concat(data));
    const text = pairs.map((p) => `${p.key}=${p.value}`).join(' ');
    return text.length > 160 ? `${text.slice(0, 157)}...` : text;
  } catch {
    return '<text not decodable>';
  }
}

/** `scsi-command ITT=0x3 CmdSN=5 ... CDB=28000000000800000800 data=0` and the like. */
export function describePdu(pdu: Pdu): string {
  const record = pdu as unknown as Record<string, unknown>;
  const parts: string[] = [pdu.kind];
  if ('immediate' in pdu && pdu.immediate) parts.push('I');
  if ('final' in pdu && pdu.final) parts.push('F');
  for (const [field, label, format] of NUMBERED) {
    const value = record[field];
    if (typeof value === 'number') parts.push(`${label}=${format(value)}`);
  }
  if (pdu.kind === 'scsi-response' || pdu.kind === 'scsi-data-in') {
    if (pdu.residualUnderflow) parts.push('U');
    if (pdu.residualOverflow) parts.push('O');
  }
  if (pdu.kind === 'scsi-command') {
    parts.push(`${pdu.read ? 'R' : ''}${pdu.write ? 'W' : ''}`.padEnd(1, '-'));
    parts.push(`CDB=${pdu.cdb.subarray(0, cdbLength(pdu.cdb)).toString('hex')}`);
  }
  if (pdu.kind === 'login-request' || pdu.kind === 'login-response') {
    parts.push(`CSG=${pdu.currentStage} NSG=${pdu.nextStage}${pdu.transit ? ' T' : ''}`);
    if (pdu.kind === 'login-response') parts.push(`LoginStatus=${hex((pdu.statusClass << 8) | pdu.statusDetail)}`);
  }
  const data = 'data' in pdu ? pdu.data : [];
  if (
    pdu.kind === 'login-request' ||
    pdu.kind === 'login-response' ||
    pdu.kind === 'text-request' ||
    pdu.kind === 'text-response'
  ) {
    if (chunksLength(data) > 0) parts.push(`[${textOf(data)}]`);
  } else {
    parts.push(`data=${chunksLength(data)}`);
  }
  return parts.join(' ');
}

/** The length a CDB's opcode group implies (SPC-4 §4.2.5.1), so reports do not print BHS zero padding. */
function cdbLength(cdb: Buffer): number {
  const group = (cdb.readUInt8(0) >> 5) & 7;
  const length = group === 0 ? 6 : group === 1 || group === 2 ? 10 : group === 4 ? 16 : group === 5 ? 12 : cdb.length;
  return Math.min(length, cdb.length);
}
