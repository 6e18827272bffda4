/**
 * The suite's own offers are legal, and what we declare we can receive over iSER stays small: an initiator posts a
 * receive of that size per command slot, so a 16 MiB declaration ran the rxe guest out of memory against LIO.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { arbOffers } from '../../conformance/arbitraries.js';

describe('arbOffers', () => {
  it('declares at most 256 KiB of iSER receive and never a FirstBurstLength above MaxBurstLength', () => {
    fc.assert(
      fc.property(arbOffers, (offers) => {
        const receive = offers.initiatorRecvDataSegmentLength;
        if (receive !== undefined && (receive < 512 || receive > 262144)) return false;
        return (offers.firstBurstLength ?? 0) <= (offers.maxBurstLength ?? 262144);
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});
