/**
 * What the LUN under test is and can do, learnt once before the properties run: its geometry, thin provisioning,
 * and which optional block commands it supports. A command it refuses with ILLEGAL REQUEST is left out of the data
 * properties (with a note in the report), not counted as a failure: SBC makes them optional.
 */
import type { Lun } from '../../protocol/initiator/lun.js';
import { ScsiStatusError } from '../../protocol/scsi/errors.js';
import { SenseKey } from '../../protocol/scsi/sense-codes.js';

/** Optional commands the data properties use. */
export type OptionalCommand = 'write-same' | 'unmap' | 'compare-and-write' | 'synchronize-cache';

/** The LUN's geometry and abilities. */
export interface LunFacts {
  readonly blockSize: number;
  readonly blocks: number;
  readonly thinProvisioned: boolean;
  readonly unmappedReadsZeros: boolean;
  /** Optional commands left out, with why. */
  readonly unsupported: ReadonlyMap<OptionalCommand, string>;
}

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
  const sync = await refusal(() => bound(lun.promises.sync(), 'SYNCHRONIZE CACHE probe'));
  if (sync !== undefined) unsupported.set('synchronize-cache', `SYNCHRONIZE CACHE ${sync}`);
  return {
    blockSize,
    blocks: Number(capacity.blocks),
    thinProvisioned: capacity.thinProvisioned,
    unmappedReadsZeros: capacity.unmappedReadsZeros,
    unsupported,
  };
}
