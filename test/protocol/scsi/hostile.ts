/** Shared checks for SCSI decoders: random and mutated bytes may only raise the layer's typed decode error. */
import fc from 'fast-check';
import { expect } from 'vitest';
import { ScsiDecodeError } from '../../../protocol/scsi/errors.js';

/** Feeds `decode` random bytes and mutations/truncations of `valid` encodings; only ScsiDecodeError may escape. */
export function expectOnlyDecodeErrors(
  decode: (buf: Buffer) => unknown,
  valid?: fc.Arbitrary<Buffer>,
  numRuns = 500,
): void {
  const random = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
  const mutated =
    valid === undefined
      ? random
      : fc
          .tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat())
          .map(([bytes, mutations, cut]) => {
            const copy = Buffer.from(bytes);
            for (const [at, value] of mutations) if (copy.length > 0) copy[at % copy.length] = value;
            return copy.subarray(0, cut % (copy.length + 1));
          });
  fc.assert(
    fc.property(fc.oneof(random, mutated), (bytes) => {
      try {
        decode(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(ScsiDecodeError);
      }
    }),
    { numRuns },
  );
}
