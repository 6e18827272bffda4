/**
 * probeLun learns how long a COMPARE AND WRITE may be from the Block Limits page: LIO allows 1 block and refuses
 * more with INVALID FIELD IN CDB, which is its right (SBC-4 §6.6.3), not a finding.
 */
import { describe, expect, it } from 'vitest';
import { probeLun } from '../../../conformance/support/lun-facts.js';
import type { Lun } from '../../../protocol/initiator/lun.js';
import { encodeBlockLimits, type BlockLimits } from '../../../protocol/scsi/data/vpd.js';
import { ScsiStatusError } from '../../../protocol/scsi/errors.js';
import { SenseKey } from '../../../protocol/scsi/sense-codes.js';
import { senseData } from '../../../protocol/scsi/sense.js';

const limits: BlockLimits = {
  wsnz: false,
  maxCompareAndWriteLength: 1,
  optimalTransferLengthGranularity: 0,
  maxTransferLength: 0,
  optimalTransferLength: 0,
  maxPrefetchLength: 0,
  maxUnmapLbaCount: 0,
  maxUnmapBlockDescriptorCount: 0,
  optimalUnmapGranularity: 0,
  unmapGranularityAlignmentValid: false,
  unmapGranularityAlignment: 0,
  maxWriteSameLength: 0n,
};

const illegal = (): ScsiStatusError =>
  new ScsiStatusError(2, 'CHECK CONDITION', { sense: senseData({ key: SenseKey.IllegalRequest, asc: 0x24, ascq: 0 }) });

/** A LUN answering the probe's commands; `vpd` answers INQUIRY for the Block Limits page. */
function fakeLun(vpd: () => Promise<Buffer>, caw: () => Promise<void> = () => Promise.resolve()): Lun {
  const promises = {
    readCapacity: () =>
      Promise.resolve({
        blockSize: 512,
        blocks: 4096n,
        lastLba: 4095n,
        thinProvisioned: false,
        unmappedReadsZeros: false,
      }),
    read: () => Promise.resolve(Buffer.alloc(512)),
    writeSame: () => Promise.resolve(),
    compareAndWrite: caw,
    sync: () => Promise.resolve(),
    vpd,
  };
  return { promises } as unknown as Lun;
}

const bound = <T>(work: Promise<T>): Promise<T> => work;

describe('probeLun: COMPARE AND WRITE length', () => {
  it('takes MAXIMUM COMPARE AND WRITE LENGTH from the Block Limits page, capped at 4', async () => {
    const one = await probeLun(
      fakeLun(() => Promise.resolve(encodeBlockLimits(limits))),
      0,
      bound,
    );
    expect(one.maxCompareAndWriteBlocks).toBe(1);
    const many = await probeLun(
      fakeLun(() => Promise.resolve(encodeBlockLimits({ ...limits, maxCompareAndWriteLength: 255 }))),
      0,
      bound,
    );
    expect(many.maxCompareAndWriteBlocks).toBe(4);
  });

  it('falls back to the 1 block the probe used when the page is refused or malformed', async () => {
    const refused = await probeLun(
      fakeLun(() => Promise.reject(illegal())),
      0,
      bound,
    );
    expect(refused.maxCompareAndWriteBlocks).toBe(1);
    const malformed = await probeLun(
      fakeLun(() => Promise.resolve(Buffer.from([0, 0x80, 0, 4, 1, 2, 3, 4]))),
      0,
      bound,
    );
    expect(malformed.maxCompareAndWriteBlocks).toBe(1);
  });

  it('leaves COMPARE AND WRITE out when the LUN refuses it', async () => {
    const facts = await probeLun(
      fakeLun(
        () => Promise.resolve(encodeBlockLimits(limits)),
        () => Promise.reject(illegal()),
      ),
      0,
      bound,
    );
    expect(facts.unsupported.get('compare-and-write')).toMatch(/ILLEGAL REQUEST/);
  });
});
