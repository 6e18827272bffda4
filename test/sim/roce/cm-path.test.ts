import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CM_PATH_BYTES, isEmptyCmPath, readCmPath, writeCmPath } from '../../../sim/roce/cm-path.js';
import { arbCmPath } from '../../support/arbitraries/roce.js';

describe('CM path', () => {
  it('round-trips in 44 bytes, never all zero when hop limit ≥ 1', () => {
    fc.assert(
      fc.property(arbCmPath, (path) => {
        const out = Buffer.alloc(CM_PATH_BYTES + 4);
        writeCmPath(path, out, 4);
        expect(readCmPath(out, 4)).toEqual(path);
        expect(isEmptyCmPath(out, 4)).toBe(false);
      }),
      { numRuns: 200 },
    );
    expect(isEmptyCmPath(Buffer.alloc(CM_PATH_BYTES), 0)).toBe(true);
  });
});
