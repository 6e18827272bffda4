/**
 * The initiator's view of how a command ended: GOOD and CONDITION MET pass, anything else becomes a
 * {@link ScsiStatusError} carrying the decoded sense data and a message that says why.
 */
import { ScsiDecodeError, ScsiStatusError } from './errors.js';
import { decodeSense, describeSense, type SenseData } from './sense.js';
import { isSuccessStatus, scsiStatusName } from './status.js';

/** The error for a command that ended in `status` with `sense` bytes (undefined when GOOD or CONDITION MET). */
export function statusError(status: number, sense?: Buffer): ScsiStatusError | undefined {
  if (isSuccessStatus(status)) return undefined;
  let decoded: SenseData | undefined;
  let why = '';
  if (sense !== undefined && sense.length > 0) {
    try {
      decoded = decodeSense(sense);
      why = `: ${describeSense(decoded)}`;
    } catch (err) {
      if (!(err instanceof ScsiDecodeError)) throw err;
      why = ` (unreadable sense data: ${err.message})`;
    }
  }
  return new ScsiStatusError(status, `SCSI status ${scsiStatusName(status)}${why}`, {
    ...(decoded !== undefined && { sense: decoded }),
  });
}

/** Throws the {@link ScsiStatusError} for `status` and `sense` unless the command succeeded. */
export function checkStatus(status: number, sense?: Buffer): void {
  const error = statusError(status, sense);
  if (error !== undefined) throw error;
}
