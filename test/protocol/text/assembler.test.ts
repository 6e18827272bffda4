import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TextAssembler } from '../../../protocol/text/assembler.js';
import { encodeText } from '../../../protocol/text/codec.js';
import { TextError } from '../../../protocol/text/errors.js';
import { arbTextPairs } from '../../support/arbitraries/text.js';

const sample = [
  { key: 'InitiatorName', value: 'iqn.2024-01.com.example:host' },
  { key: 'InitiatorAlias', value: 'hôte-ünïcode' },
  { key: 'MaxBurstLength', value: '262144' },
];

describe('TextAssembler', () => {
  it('reassembles a text split at every single byte position (inside keys, values and UTF-8 characters)', () => {
    const encoded = encodeText(sample);
    for (let at = 0; at <= encoded.length; at++) {
      const assembler = new TextAssembler();
      expect(assembler.push(encoded.subarray(0, at), true)).toBeUndefined();
      expect(assembler.pendingBytes).toBe(at);
      expect(assembler.push(encoded.subarray(at), false)).toEqual(sample);
      expect(assembler.pendingBytes).toBe(0);
    }
  });

  it('reassembles random texts cut into random pieces, given as chunk lists', () => {
    fc.assert(
      fc.property(arbTextPairs, fc.array(fc.nat(), { maxLength: 8 }), (pairs, cuts) => {
        const encoded = encodeText(pairs);
        const points = [...new Set(cuts.map((c) => (encoded.length === 0 ? 0 : c % encoded.length)))].sort(
          (a, b) => a - b,
        );
        const bounds = [0, ...points, encoded.length];
        const assembler = new TextAssembler();
        let result: unknown;
        for (let i = 0; i + 1 < bounds.length; i++) {
          const piece = encoded.subarray(bounds[i], bounds[i + 1]);
          const half = piece.length >> 1;
          result = assembler.push([piece.subarray(0, half), piece.subarray(half)], i + 2 < bounds.length);
          if (i + 2 < bounds.length) expect(result).toBeUndefined();
        }
        expect(result).toEqual(pairs);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps its own copy: a transport may reuse its receive buffer before the text completes', () => {
    const encoded = Buffer.from(encodeText(sample));
    const assembler = new TextAssembler();
    const first = Buffer.from(encoded.subarray(0, 10));
    assembler.push(first, true);
    first.fill(0x41);
    expect(assembler.push(encoded.subarray(10), false)).toEqual(sample);
  });

  it('refuses text past its bound and starts empty again afterwards', () => {
    const assembler = new TextAssembler({ maxBytes: 16 });
    assembler.push(Buffer.from('X-a=0123456'), true);
    expect(() => assembler.push(Buffer.from('789abcdef'), true)).toThrow(TextError);
    expect(assembler.pendingBytes).toBe(0);
    expect(assembler.push(Buffer.from('X-b=1\0'), false)).toEqual([{ key: 'X-b', value: '1' }]);
  });

  it('defaults its bound to 64 KiB', () => {
    const assembler = new TextAssembler();
    assembler.push(Buffer.alloc(64 * 1024, 0x41), true);
    let error: unknown;
    try {
      assembler.push(Buffer.alloc(1, 0x41), true);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TextError);
    expect((error as TextError).code).toBe('ERR_TEXT_TOO_LONG');
  });

  it('detects duplicate keys spread over two PDUs, unless allowed', () => {
    const strict = new TextAssembler();
    strict.push(Buffer.from('TargetName=iqn.a\0'), true);
    expect(() => strict.push(Buffer.from('TargetName=iqn.b\0'), false)).toThrow(TextError);
    const lenient = new TextAssembler({ allowDuplicateKeys: true });
    lenient.push(Buffer.from('TargetName=iqn.a\0'), true);
    expect(lenient.push(Buffer.from('TargetName=iqn.b\0'), false)).toHaveLength(2);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new TextAssembler({ maxBytes: 0 })).toThrow(TextError);
  });

  it('throws only TextError when fed random bytes in random pieces', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.boolean()), { maxLength: 6 }), (pieces) => {
        const assembler = new TextAssembler({ maxBytes: 256 });
        for (const [raw, more] of pieces) {
          try {
            assembler.push(Buffer.from(raw), more);
          } catch (err) {
            expect(err).toBeInstanceOf(TextError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
