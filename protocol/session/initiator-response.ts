/**
 * Turning a SCSI Response (RFC 7143 §11.4) into what the caller of a command sees: a result with the data-in
 * trimmed by the residual, or a typed error — {@link ScsiStatusError} with decoded sense for a SCSI status other
 * than GOOD/CONDITION MET, {@link InitiatorSessionError} for an iSCSI "target failure".
 */
import { lunToNumber } from '../pdu/lun.js';
import { ScsiServiceResponse, type ScsiResponsePdu } from '../pdu/scsi-response.js';
import { ScsiDecodeError, ScsiStatusError } from '../scsi/errors.js';
import { opcodeName } from '../scsi/opcodes.js';
import { decodeSense, describeSense, type SenseData } from '../scsi/sense.js';
import { isSuccessStatus, scsiStatusName } from '../scsi/status.js';
import { InitiatorSessionError } from './initiator-errors.js';
import type { CommandResult, Residual } from './initiator-types.js';

/** What the session remembers of a command to interpret its response. */
export interface CommandContext {
  readonly lun: bigint;
  readonly cdb: Buffer;
  /** Expected data-in bytes (0 for none). */
  readonly readLength: number;
  /** Expected data-out bytes (0 for none). */
  readonly writeLength: number;
  /** Where the transport placed the data-in. */
  readonly readBuffer: Buffer | undefined;
}

/** A response's outcome: a result, or the error the command fails with. */
export type CommandOutcome =
  { readonly ok: true; readonly result: CommandResult } | { readonly ok: false; readonly error: Error };

/** Decodes the sense data of a SCSI Response data segment (SenseLength + sense), or undefined when there is none. */
export function senseFromSegment(data: readonly Buffer[]): { sense?: SenseData; error?: ScsiDecodeError } {
  const bytes = data.length === 1 ? (data[0] as Buffer) : Buffer.concat(data);
  if (bytes.length < 2) return {};
  const senseLength = bytes.readUInt16BE(0);
  if (senseLength === 0) return {};
  if (2 + senseLength > bytes.length) {
    return {
      error: new ScsiDecodeError(
        'ERR_SCSI_LENGTH',
        `SenseLength ${senseLength} exceeds the ${bytes.length - 2} bytes that follow it`,
      ),
    };
  }
  try {
    return { sense: decodeSense(bytes.subarray(2, 2 + senseLength)) };
  } catch (err) {
    if (err instanceof ScsiDecodeError) return { error: err };
    throw err;
  }
}

/** A one-line name of a command for messages, e.g. `READ(10) on LUN 0`. */
export function describeCommand(context: Pick<CommandContext, 'lun' | 'cdb'>): string {
  const opcode = context.cdb[0] ?? 0;
  const lun = lunToNumber(context.lun);
  return `${opcodeName(opcode)} on LUN ${lun === undefined ? `0x${context.lun.toString(16)}` : lun}`;
}

function residualOf(underflow: boolean, overflow: boolean, count: number): Residual {
  return { underflow, overflow, count };
}

/** How many bytes of an expected transfer actually moved, given its residual. */
function transferred(expected: number, residual: Residual): number {
  return residual.underflow ? Math.max(0, expected - residual.count) : expected;
}

/** Interprets the SCSI Response of a command. */
export function commandOutcome(context: CommandContext, pdu: ScsiResponsePdu): CommandOutcome {
  if (pdu.response !== ScsiServiceResponse.CommandCompletedAtTarget) {
    return {
      ok: false,
      error: new InitiatorSessionError(
        'ERR_SESSION_TARGET_FAILURE',
        `${describeCommand(context)}: the target reported iSCSI response 0x${pdu.response.toString(16)} ` +
          `(${pdu.response === ScsiServiceResponse.TargetFailure ? 'target failure' : 'vendor specific'}) instead of a SCSI status`,
        { serviceResponse: pdu.response },
      ),
    };
  }
  const { sense, error: senseError } = senseFromSegment(pdu.data);
  if (!isSuccessStatus(pdu.status)) {
    const why = sense === undefined ? '' : `: ${describeSense(sense)}`;
    const message = `${describeCommand(context)} ended with ${scsiStatusName(pdu.status)} (0x${pdu.status
      .toString(16)
      .padStart(2, '0')})${why}`;
    return {
      ok: false,
      error: new ScsiStatusError(pdu.status, message, {
        ...(sense === undefined ? {} : { sense }),
        ...(senseError === undefined ? {} : { cause: senseError }),
      }),
    };
  }
  const bidirectional = context.readLength > 0 && context.writeLength > 0;
  const residual = residualOf(pdu.residualUnderflow, pdu.residualOverflow, pdu.residualCount);
  const bidiResidual = residualOf(
    pdu.bidirectionalReadResidualUnderflow,
    pdu.bidirectionalReadResidualOverflow,
    pdu.bidirectionalReadResidualCount,
  );
  const readResidual = bidirectional ? bidiResidual : residual;
  const buffer = context.readBuffer;
  const data =
    buffer === undefined
      ? Buffer.alloc(0)
      : buffer.subarray(0, Math.min(buffer.length, transferred(context.readLength, readResidual)));
  return {
    ok: true,
    result: {
      status: pdu.status,
      data,
      residual,
      ...(bidirectional ? { bidirectionalReadResidual: bidiResidual } : {}),
      ...(sense === undefined ? {} : { sense }),
    },
  };
}
