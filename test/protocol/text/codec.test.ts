import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeText, encodeText, MAX_KEY_BYTES } from '../../../protocol/text/codec.js';
import { TextError } from '../../../protocol/text/errors.js';
import { arbTextPairs } from '../../support/arbitraries/text.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Runs `fn` and returns the TextError code it throws, or fails if it throws anything else. */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TextError);
    return (err as TextError).code;
  }
}

describe('encodeText / decodeText', () => {
  it('writes each pair as key=value followed by one NUL (RFC 7143 §6.1)', () => {
    const encoded = encodeText([
      { key: 'InitiatorName', value: 'iqn.2024-01.com.example:host' },
      { key: 'SessionType', value: 'Normal' },
    ]);
    expect(encoded.toString('latin1')).toBe('InitiatorName=iqn.2024-01.com.example:host\0SessionType=Normal\0');
  });

  it('round-trips arbitrary valid pairs, whether given as one buffer or a chunk list', () => {
    fc.assert(
      fc.property(arbTextPairs, fc.integer({ min: 1, max: 50 }), (pairs, cut) => {
        const encoded = encodeText(pairs);
        expect(decodeText(encoded)).toEqual(pairs);
        const at = Math.min(cut, encoded.length);
        expect(decodeText([encoded.subarray(0, at), encoded.subarray(at)])).toEqual(pairs);
      }),
      { numRuns: 300 },
    );
  });

  it('splits at the first "=": values may contain "=" (aliases are any UTF-8)', () => {
    expect(decodeText(bytes('TargetAlias=a=b=c\0'))).toEqual([{ key: 'TargetAlias', value: 'a=b=c' }]);
  });

  it('decodes empty input as no pairs, and keeps empty values', () => {
    expect(decodeText(Buffer.alloc(0))).toEqual([]);
    expect(decodeText([])).toEqual([]);
    expect(decodeText(bytes('SendTargets=\0'))).toEqual([{ key: 'SendTargets', value: '' }]);
  });

  it('accepts a 63-byte key and refuses a 64-byte one', () => {
    const ok = `X-${'a'.repeat(MAX_KEY_BYTES - 2)}`;
    expect(decodeText(bytes(`${ok}=1\0`))).toEqual([{ key: ok, value: '1' }]);
    expect(codeOf(() => decodeText(bytes(`${ok}b=1\0`)))).toBe('ERR_TEXT_BAD_KEY');
    expect(codeOf(() => encodeText([{ key: `${ok}b`, value: '1' }]))).toBe('ERR_TEXT_BAD_KEY');
  });

  it('bounds values at 255 bytes unless the key allows more', () => {
    expect(decodeText(bytes(`X-v=${'a'.repeat(255)}\0`))[0]?.value).toHaveLength(255);
    expect(codeOf(() => decodeText(bytes(`X-v=${'a'.repeat(256)}\0`)))).toBe('ERR_TEXT_VALUE_TOO_LONG');
    expect(codeOf(() => decodeText(bytes(`MaxBurstLength=${'1'.repeat(256)}\0`)))).toBe('ERR_TEXT_VALUE_TOO_LONG');
    // RFC 7143 §12.1.3: CHAP_C and CHAP_R carry up to 1024 binary bytes, 2048 hex digits.
    const challenge = `0x${'ab'.repeat(1024)}`;
    expect(decodeText(bytes(`CHAP_C=${challenge}\0`))[0]?.value).toBe(challenge);
    expect(codeOf(() => decodeText(bytes(`CHAP_C=${challenge}ab\0`)))).toBe('ERR_TEXT_VALUE_TOO_LONG');
    expect(codeOf(() => encodeText([{ key: 'CHAP_N', value: 'n'.repeat(256) }]))).toBe('ERR_TEXT_VALUE_TOO_LONG');
  });

  it('detects a key given twice, unless told the text is a SendTargets answer', () => {
    const twice = bytes('TargetName=iqn.a\0TargetAddress=10.0.0.1\0TargetName=iqn.b\0');
    expect(codeOf(() => decodeText(twice))).toBe('ERR_TEXT_DUPLICATE_KEY');
    expect(decodeText(twice, { allowDuplicateKeys: true }).map((p) => p.value)).toEqual(['iqn.a', '10.0.0.1', 'iqn.b']);
  });

  it.each([
    ['no final NUL', 'A=1'],
    ['an empty pair', 'A=1\0\0'],
    ['a pair without "="', 'A=1\0B\0'],
    ['an empty key', '=1\0'],
    ['a key starting with a digit', '1A=1\0'],
    ['a key with a space', 'A B=1\0'],
    ['a key with a colon', 'A:B=1\0'],
  ])('refuses %s', (_name, text) => {
    expect(codeOf(() => decodeText(bytes(text)))).toMatch(/^ERR_TEXT_(MALFORMED|BAD_KEY)$/);
  });

  it('refuses text that is not UTF-8', () => {
    expect(codeOf(() => decodeText(Buffer.from([0x41, 0x3d, 0xc3, 0x28, 0x00])))).toBe('ERR_TEXT_BAD_ENCODING');
  });

  it('refuses to encode a value holding a NUL', () => {
    expect(codeOf(() => encodeText([{ key: 'A', value: 'x\0y' }]))).toBe('ERR_TEXT_BAD_ENCODING');
  });

  it('throws only TextError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (raw) => {
        codeOf(() => decodeText(Buffer.from(raw)));
      }),
      { numRuns: 500 },
    );
  });

  it('throws only TextError on mutated valid text, and decodes what it accepts consistently', () => {
    fc.assert(
      fc.property(
        arbTextPairs,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (pairs, mutations) => {
          const encoded = Buffer.from(encodeText(pairs));
          if (encoded.length === 0) return;
          for (const [at, byte] of mutations) encoded[at % encoded.length] = byte;
          let decoded: ReturnType<typeof decodeText> | undefined;
          if (codeOf(() => (decoded = decodeText(encoded))) === undefined && decoded !== undefined) {
            // Whatever is accepted must encode back to the very same bytes.
            expect(encodeText(decoded).equals(encoded)).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
