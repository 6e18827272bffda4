import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeIscsiTransportId,
  decodePrCapabilities,
  decodePrFullStatus,
  decodePrOutParameters,
  decodePrReadKeys,
  decodePrReadReservation,
  encodeIscsiTransportId,
  encodePrCapabilities,
  encodePrFullStatus,
  encodePrOutParameters,
  encodePrReadKeys,
  encodePrReadReservation,
} from '../../../../protocol/scsi/data/persistent-reservation.js';
import { expectOnlyDecodeErrors } from '../hostile.js';

const key = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const arbName = fc
  .tuple(
    fc.stringMatching(/^iqn\.2020-01\.[a-z]{1,12}:[a-z0-9]{1,20}$/),
    fc.option(fc.stringMatching(/^[0-9a-f]{12}$/)),
  )
  .map(([name, isid]) => (isid === null ? name : `${name},i,0x${isid}`));

const arbFullStatus = fc.array(
  fc.record({
    key,
    allTgPt: fc.boolean(),
    holder: fc.boolean(),
    scope: fc.integer({ min: 0, max: 15 }),
    type: fc.integer({ min: 0, max: 15 }),
    relativeTargetPortId: fc.integer({ min: 0, max: 0xffff }),
    transportId: arbName.map(encodeIscsiTransportId),
  }),
  { maxLength: 4 },
);

const arbCaps = fc.record({
  rlrC: fc.boolean(),
  crh: fc.boolean(),
  sipC: fc.boolean(),
  atpC: fc.boolean(),
  ptplC: fc.boolean(),
  tmv: fc.boolean(),
  allowCommands: fc.integer({ min: 0, max: 7 }),
  ptplA: fc.boolean(),
  typeMask: fc.integer({ min: 0, max: 0xffff }),
});

describe('persistent reservation data', () => {
  it('round-trips READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL STATUS', () => {
    fc.assert(
      fc.property(u32, fc.array(key, { maxLength: 10 }), (generation, keys) => {
        expect(decodePrReadKeys(encodePrReadKeys(generation, keys))).toEqual({
          generation,
          keys,
          additionalLength: 8 * keys.length,
        });
      }),
    );
    fc.assert(
      fc.property(
        u32,
        fc.option(fc.record({ key, scope: fc.integer({ min: 0, max: 15 }), type: fc.integer({ min: 0, max: 15 }) }), {
          nil: undefined,
        }),
        (generation, reservation) => {
          expect(decodePrReadReservation(encodePrReadReservation(generation, reservation))).toEqual({
            generation,
            ...(reservation && { reservation }),
          });
        },
      ),
    );
    fc.assert(
      fc.property(arbCaps, (caps) => {
        expect(decodePrCapabilities(encodePrCapabilities(caps))).toEqual(caps);
      }),
    );
    fc.assert(
      fc.property(u32, arbFullStatus, (generation, descriptors) => {
        const decoded = decodePrFullStatus(encodePrFullStatus(generation, descriptors));
        expect(decoded.generation).toBe(generation);
        expect(decoded.descriptors).toEqual(descriptors);
      }),
    );
  });

  it('READ KEYS keeps ADDITIONAL LENGTH when the allocation length cut the keys (SPC-5 6.16.2)', () => {
    const rk = decodePrReadKeys(encodePrReadKeys(3, [1n, 2n]).subarray(0, 8));
    expect(rk).toEqual({ generation: 3, keys: [], additionalLength: 16 });
  });

  it('round-trips the PERSISTENT RESERVE OUT parameter list', () => {
    fc.assert(
      fc.property(
        fc.record({
          reservationKey: key,
          serviceActionReservationKey: key,
          specIPt: fc.boolean(),
          allTgPt: fc.boolean(),
          aptpl: fc.boolean(),
        }),
        (params) => {
          const bytes = encodePrOutParameters(params);
          expect(bytes.length).toBe(24);
          expect(decodePrOutParameters(bytes)).toEqual(params);
        },
      ),
    );
  });

  it('round-trips iSCSI TransportIDs, padded to 4 with ADDITIONAL LENGTH >= 20', () => {
    fc.assert(
      fc.property(arbName, (name) => {
        const id = encodeIscsiTransportId(name);
        expect(id.length % 4).toBe(0);
        expect(id.readUInt16BE(2)).toBeGreaterThanOrEqual(20);
        expect(id[0]).toBe(name.includes(',i,0x') ? 0x45 : 0x05);
        expect(decodeIscsiTransportId(id)).toBe(name);
      }),
    );
  });

  it('throws only ScsiDecodeError on hostile bytes', () => {
    expectOnlyDecodeErrors(decodePrReadKeys);
    expectOnlyDecodeErrors(decodePrReadReservation);
    expectOnlyDecodeErrors(decodePrCapabilities, arbCaps.map(encodePrCapabilities));
    expectOnlyDecodeErrors(
      decodePrFullStatus,
      arbFullStatus.map((d) => encodePrFullStatus(1, d)),
    );
    expectOnlyDecodeErrors(decodePrOutParameters);
    expectOnlyDecodeErrors(decodeIscsiTransportId, arbName.map(encodeIscsiTransportId));
  });
});
