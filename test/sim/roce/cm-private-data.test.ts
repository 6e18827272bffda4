import { describe, expect, it } from 'vitest';
import { CM_PRIVATE_DATA_BYTES, readPrivateData, writePrivateData } from '../../../sim/roce/cm-private-data.js';

describe('CM private data areas', () => {
  it('have the sizes of Linux IB_CM_*_PRIVATE_DATA_SIZE', () => {
    expect(CM_PRIVATE_DATA_BYTES).toEqual({
      REQ: 92,
      MRA: 222,
      REJ: 148,
      REP: 196,
      RTU: 224,
      DREQ: 220,
      DREP: 224,
      SIDR_REQ: 216,
      SIDR_REP: 136,
    });
  });

  it('zero-fill, copy out, and refuse oversized data', () => {
    const out = Buffer.alloc(20, 0);
    writePrivateData('X', Buffer.from([1, 2]), 8, out, 4);
    const read = readPrivateData(out, 4, 8);
    expect(read.toString('hex')).toBe('0102000000000000');
    out[4] = 9;
    expect(read[0]).toBe(1);
    expect(() => {
      writePrivateData('X', Buffer.alloc(9), 8, out, 0);
    }).toThrow(expect.objectContaining({ code: 'ERR_ROCE_INVALID_FIELD' }));
  });
});
