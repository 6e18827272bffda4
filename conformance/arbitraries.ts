/**
 * The suite's own generators of initiator negotiation preferences (legal offers), used when the caller does not
 * hand in its own (the tests hand in test/support/arbitraries/text.ts's `arbOperationalConfig`).
 */
import fc from 'fast-check';
import type { NegotiationConfig } from '../protocol/text/config.js';
import type { Digest } from '../protocol/text/params.js';

const digests = fc.constantFrom<Digest[]>(['None'], ['CRC32C'], ['CRC32C', 'None'], ['None', 'CRC32C']);
const segment = fc.oneof(fc.integer({ min: 512, max: 0xff_ffff }), fc.constantFrom(512, 8192, 65536, 262144));
/**
 * What we declare we can receive over iSER: each posted receive is that big, and an initiator posts one per
 * command slot (128), so 16 MiB would pin 2 GiB and tell nothing about the target (it only bounds our receives).
 */
const ownIserReceive = fc.oneof(fc.integer({ min: 512, max: 262144 }), fc.constantFrom(512, 8192, 65536, 262144));

/** Legal operational offers (FirstBurstLength never above MaxBurstLength). */
export const arbOffers: fc.Arbitrary<NegotiationConfig> = fc
  .record(
    {
      headerDigest: digests,
      dataDigest: digests,
      maxConnections: fc.integer({ min: 1, max: 65535 }),
      initialR2T: fc.boolean(),
      immediateData: fc.boolean(),
      maxRecvDataSegmentLength: segment,
      maxBurstLength: segment,
      firstBurstLength: segment,
      defaultTime2Wait: fc.integer({ min: 0, max: 3600 }),
      defaultTime2Retain: fc.integer({ min: 0, max: 3600 }),
      maxOutstandingR2T: fc.integer({ min: 1, max: 65535 }),
      dataPduInOrder: fc.boolean(),
      dataSequenceInOrder: fc.boolean(),
      errorRecoveryLevel: fc.integer({ min: 0, max: 2 }),
      initiatorRecvDataSegmentLength: ownIserReceive,
      targetRecvDataSegmentLength: segment,
    },
    { requiredKeys: [] },
  )
  .map((c) =>
    c.firstBurstLength !== undefined && c.firstBurstLength > (c.maxBurstLength ?? 262144)
      ? { ...c, firstBurstLength: c.maxBurstLength ?? 262144 }
      : c,
  );

/** One illegal key=value an offer may carry, and what kind of illegal it is. */
export interface IllegalOffer {
  readonly kind: 'out-of-range' | 'bad-boolean' | 'unknown-list-value' | 'bad-syntax' | 'unknown-key';
  readonly key: string;
  readonly value: string;
}

const NUMERIC: readonly (readonly [string, number, number])[] = [
  ['MaxConnections', 1, 65535],
  ['MaxBurstLength', 512, 0xff_ffff],
  ['FirstBurstLength', 512, 0xff_ffff],
  ['DefaultTime2Wait', 0, 3600],
  ['DefaultTime2Retain', 0, 3600],
  ['MaxOutstandingR2T', 1, 65535],
  ['ErrorRecoveryLevel', 0, 2],
];
const BOOLEAN = ['InitialR2T', 'ImmediateData', 'DataPDUInOrder', 'DataSequenceInOrder'];

/** Illegal offers: out of range, not a boolean, no known list value, not a number, an unknown key. */
export const arbIllegalOffer: fc.Arbitrary<IllegalOffer> = fc.oneof(
  fc
    .constantFrom(...NUMERIC)
    .chain(([key, min, max]) =>
      fc
        .oneof(
          fc.integer({ min: max + 1, max: max + (1 << 20) }),
          ...(min > 0 ? [fc.integer({ min: 0, max: min - 1 })] : []),
          fc.constant(2 ** 32),
        )
        .map((n) => ({ kind: 'out-of-range' as const, key, value: String(n) })),
    ),
  fc
    .tuple(fc.constantFrom(...BOOLEAN), fc.constantFrom('yes', 'no', 'Maybe', '1', 'true', 'YES'))
    .map(([key, value]) => ({ kind: 'bad-boolean' as const, key, value })),
  fc
    .tuple(
      fc.constantFrom('HeaderDigest', 'DataDigest'),
      fc.constantFrom('MD5', 'CRC64', 'crc32c', 'none', 'SHA1,CRC64'),
    )
    .map(([key, value]) => ({ kind: 'unknown-list-value' as const, key, value })),
  fc
    .tuple(fc.constantFrom(...NUMERIC.map(([key]) => key)), fc.constantFrom('abc', '-1', '1e3', '0x', '12 ', '0b101'))
    .map(([key, value]) => ({ kind: 'bad-syntax' as const, key, value })),
  fc
    .tuple(fc.constantFrom('X-org.iser.conformance.', 'Unknown'), fc.stringMatching(/^[A-Za-z0-9]{1,12}$/))
    .map(([prefix, suffix]) => ({ kind: 'unknown-key' as const, key: `${prefix}${suffix}`, value: 'Yes' })),
);
