import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TextAssembler } from '../../../protocol/text/assembler.js';
import { encodeText } from '../../../protocol/text/codec.js';
import { TextError } from '../../../protocol/text/errors.js';
import { splitText } from '../../../protocol/text/split.js';
import { arbTextPairs } from '../../support/arbitraries/text.js';

describe('splitText', () => {
  it('cuts text into pieces no longer than the limit, C bit on all but the last, bytes unchanged', () => {
    fc.assert(
      fc.property(arbTextPairs, fc.integer({ min: 1, max: 300 }), (pairs, max) => {
        const pieces = splitText(pairs, max);
        const encoded = encodeText(pairs);
        expect(Buffer.concat(pieces.flatMap((p) => p.data)).equals(encoded)).toBe(true);
        expect(pieces.length).toBe(Math.max(1, Math.ceil(encoded.length / max)));
        pieces.forEach((piece, i) => {
          expect(piece.data.reduce((n, c) => n + c.length, 0)).toBeLessThanOrEqual(max);
          expect(piece.continues).toBe(i < pieces.length - 1);
        });
        const assembler = new TextAssembler();
        let result: unknown;
        for (const piece of pieces) result = assembler.push(piece.data, piece.continues);
        expect(result).toEqual(pairs);
      }),
      { numRuns: 300 },
    );
  });

  it('gives one empty, final piece for an empty text', () => {
    expect(splitText([], 8192)).toEqual([{ data: [], continues: false }]);
  });

  it('splits a 1024-byte CHAP challenge over 512-byte PDUs', () => {
    const pieces = splitText([{ key: 'CHAP_C', value: `0x${'5a'.repeat(1024)}` }], 512);
    expect(pieces).toHaveLength(5);
    expect(pieces.map((p) => p.continues)).toEqual([true, true, true, true, false]);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => splitText([{ key: 'A', value: '1' }], 0)).toThrow(TextError);
    expect(() => splitText([{ key: 'A', value: '1' }], 1.5)).toThrow(TextError);
  });
});
