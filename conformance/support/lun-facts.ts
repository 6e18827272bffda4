/**
 * What the LUN under test is and can do, learnt once before the properties run: its geometry, thin provisioning,
 * and which optional block commands it supports. A command it refuses with ILLEGAL REQUEST is left out of the data
 * properties (with a note in the report), not counted as a failure: SBC makes them optional.
 */
import type { Lun } from '../../protocol/initiator/lun.js';
import { VpdPage, decodeBlockLimits } from '../../protocol/scsi/data/vpd.js';
import { ScsiDecodeError, ScsiStatusError } from '../../protocol/scsi/errors.js';
import { SenseKey } from '../../protocol/scsi/sense-codes.js';

/** Optional commands the data properties use. */
export type OptionalCommand = 'write-same' | 'unmap' | 'compare-and-write' | 'synchronize-cache';

/** The LUN's geometry and abilities. */
export interface LunFacts {
  readonly blockSize: number;
  readonly blocks: number;
  readonly thinProvisioned: boolean;
  readonly unmappedReadsZeros: boolean;
  /**
   * The most blocks one COMPARE AND WRITE may name: the Block Limits page's MAXIMUM COMPARE AND WRITE LENGTH (a
   * target refuses more with INVALID FIELD IN CDB; LIO allows 1), at most 4; 1 (what the probe used) when the page
   * is missing or reports none.
   */
  readonly maxCompareAndWriteBlocks: number;
  /** Optional commands left out, with why. */
  readonly unsupported: ReadonlyMap<OptionalCommand, string>;
}

/** The longest COMPARE AND WRITE the data properties draw (short: it is one atomic unit on the target). */
const MAX_COMPARE_AND_WRITE_BLOCKS = 4;

/** Runs `work` and says why the command is unusable, or undefined when it worked. */
async function refusal(work: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await work();
    return undefined;
  } catch (err) {
    if (err instanceof ScsiStatusError && err.sense?.key === SenseKey.IllegalRequest) {
      const asc = ((err.sense.asc << 8) | err.sense.ascq).toString(16).padStart(4, '0');
      return `refused with ILLEGAL REQUEST (ASC/ASCQ 0x${asc})`;
    }
    throw err;
  }
}

/** MAXIMUM COMPARE AND WRITE LENGTH of a Block Limits page; 0 when the page does not decode. */
function compareAndWriteLimit(page: Buffer): number {
  try {
    return decodeBlockLimits(page).maxCompareAndWriteLength;
  } catch (err) {
    if (err instanceof ScsiDecodeError) return 0;
    throw err;
  }
}

/**
 * Probes `lun` with `bound` around every command. `probeLba` is a scratch block (its content is preserved:
 * WRITE SAME and COMPARE AND WRITE rewrite what it holds).
 */
export async function probeLun(
  lun: Lun,
  probeLba: number,
  bound: <T>(work: Promise<T>, what: string) => Promise<T>,
): Promise<LunFacts> {
  const capacity = await bound(lun.promises.readCapacity(), 'READ CAPACITY');
  const blockSize = capacity.blockSize;
  const unsupported = new Map<OptionalCommand, string>();
  const current = await bound(lun.promises.read(probeLba, 1), 'READ of the probe block');
  const writeSame = await refusal(() =>
    bound(lun.promises.writeSame(probeLba, 1, { data: current }), 'WRITE SAME(16) probe'),
  );
  if (writeSame !== undefined) unsupported.set('write-same', `WRITE SAME(16) ${writeSame}`);
  if (!capacity.thinProvisioned) {
    unsupported.set('unmap', 'UNMAP: the LUN is not thin provisioned (LBPME=0)');
  } else if (!capacity.unmappedReadsZeros) {
    unsupported.set('unmap', 'UNMAP: unmapped blocks have no defined content (LBPRZ=0)');
  }
  const caw = await refusal(() =>
    bound(lun.promises.compareAndWrite(probeLba, current, current), 'COMPARE AND WRITE probe'),
  );
  if (caw !== undefined) unsupported.set('compare-and-write', `COMPARE AND WRITE ${caw}`);
  let maxCompareAndWriteBlocks = 1;
  if (caw === undefined) {
    let page: Buffer | undefined;
    const why = await refusal(async () => {
      page = await bound(lun.promises.vpd(VpdPage.BlockLimits), 'INQUIRY VPD Block Limits');
    });
    const limit = why === undefined && page !== undefined ? compareAndWriteLimit(page) : 0;
    maxCompareAndWriteBlocks = Math.min(MAX_COMPARE_AND_WRITE_BLOCKS, Math.max(1, limit));
  }
  const sync = await refusal(() => bound(lun.promises.sync(), 'SYNCHRONIZE CACHE probe'));
  if (sync !== undefined) unsupported.set('synchronize-cache', `SYNCHRONIZE CACHE ${sync}`);
  return {
    blockSize,
    blocks: Number(capacity.blocks),
    thinProvisioned: capacity.thinProvisioned,
    unmappedReadsZeros: capacity.unmappedReadsZeros,
    maxCompareAndWriteBlocks,
    unsupported,
  };
}
