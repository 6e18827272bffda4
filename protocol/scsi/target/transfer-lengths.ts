/**
 * How many bytes a CDB moves each way, for the transport's residual accounting (RFC 7143 §11.4.5): data-out is
 * exact; data-in is the most the command can return (its allocation or transfer length). A CDB this stack does
 * not decode, or a truncated one, moves nothing.
 */
import { decodeCdb } from '../cdb/decode.js';
import type { DecodedCdb } from '../cdb/types.js';
import { ScsiDecodeError } from '../errors.js';

/** Bytes a CDB transfers in each direction. */
export interface TransferLengths {
  /** Data-out bytes the command consumes (exactly). */
  readonly dataOut: number;
  /** Data-in bytes the command may return (at most). */
  readonly dataIn: number;
}

/** The data-out and (maximum) data-in byte counts of `cdb` on a unit with `blockSize`-byte blocks. */
export function cdbTransferLengths(cdb: Buffer, blockSize: number): TransferLengths {
  let decoded: DecodedCdb;
  try {
    decoded = decodeCdb(cdb);
  } catch (err) {
    if (err instanceof ScsiDecodeError) return { dataOut: 0, dataIn: 0 };
    throw err;
  }
  return transferLengthsOf(decoded, blockSize);
}

/** {@link cdbTransferLengths} for an already decoded CDB. */
export function transferLengthsOf(cdb: DecodedCdb, blockSize: number): TransferLengths {
  const out = (dataOut: number): TransferLengths => ({ dataOut, dataIn: 0 });
  const into = (dataIn: number): TransferLengths => ({ dataOut: 0, dataIn });
  switch (cdb.command) {
    case 'read':
      return into(cdb.blocks * blockSize);
    case 'write':
    case 'write-and-verify':
      return out(cdb.blocks * blockSize);
    case 'verify':
      return out(cdb.bytchk === 1 ? cdb.blocks * blockSize : cdb.bytchk === 3 && cdb.blocks > 0 ? blockSize : 0);
    case 'compare-and-write':
      return out(2 * cdb.blocks * blockSize);
    case 'write-same':
      return out(cdb.ndob ? 0 : blockSize);
    case 'unmap':
    case 'mode-select':
    case 'persistent-reserve-out':
      return out(cdb.parameterListLength);
    case 'inquiry':
    case 'request-sense':
    case 'report-luns':
    case 'read-capacity-16':
    case 'get-lba-status':
    case 'mode-sense':
    case 'report-supported-operation-codes':
    case 'persistent-reserve-in':
      return into(cdb.allocationLength);
    case 'read-capacity-10':
      return into(8);
    case 'test-unit-ready':
    case 'pre-fetch':
    case 'synchronize-cache':
    case 'start-stop-unit':
    case 'unknown':
      return { dataOut: 0, dataIn: 0 };
  }
}
