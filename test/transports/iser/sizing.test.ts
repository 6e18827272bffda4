import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isIserError } from '../../../protocol/errors.js';
import { DEFAULT_CAPS } from '../../../sim/fabric/index.js';
import {
  checkMaxReceiveDataSegmentLength,
  dataOutsPerCommand,
  DEFAULT_MAX_RECEIVE_DATA_SEGMENT_LENGTH,
  ISER_HEADERS_LENGTH,
  LOGIN_RECEIVE_LENGTH,
  qpCapabilities,
  receiveBufferLength,
  RECEIVE_DATA_SEGMENT_LENGTH_CAP,
  receiveRingDepth,
  sendCreditLimits,
} from '../../../transports/iser/sizing.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';
import { iserParams } from './env.js';

/** iSER params with IRDSL and TRDSL set apart, so a swapped direction shows. */
const params = iserParams(defaultNegotiatedParams({ maxRecvDataSegmentLength: { initiator: 16_384, target: 4096 } }));

describe('iSER sizing', () => {
  it('login receives are 76 + 8192 = 8268 bytes', () => {
    expect(ISER_HEADERS_LENGTH).toBe(76);
    expect(LOGIN_RECEIVE_LENGTH).toBe(8268);
  });

  it('QP: T*(1+D)+6+4+1 send WRs, 2 send SGEs, 1 receive SGE (Linux formula), clamped to the device', () => {
    const initiator = qpCapabilities('initiator', 128, DEFAULT_CAPS);
    expect(initiator).toEqual({
      maxSendWr: 128 * 9 + 6 + 4 + 1,
      maxRecvWr: 128 + 6 + 4 + 2,
      maxSendSge: 2,
      maxRecvSge: 1,
    });
    const target = qpCapabilities('target', 128, DEFAULT_CAPS);
    expect(target.maxRecvWr).toBe(128 * 9 + 6 + 4 + 2);
    expect(qpCapabilities('target', 100_000, { ...DEFAULT_CAPS, maxQpWr: 4096 }).maxSendWr).toBe(4096);
  });

  it('each side sizes receives from what the PEER may send it: IRDSL at the initiator, TRDSL + AHS at the target', () => {
    expect(receiveBufferLength(params, 'initiator')).toBe(76 + 16_384);
    expect(receiveBufferLength(params, 'target')).toBe(76 + 256 + 4096);
    expect(receiveBufferLength({ ...params, maxAhsLength: 1020 }, 'target')).toBe(76 + 1020 + 4096);
  });

  it('credits follow the peer’s MaxOutstandingUnexpectedPDUs, or our own bounds when it declared 0', () => {
    expect(sendCreditLimits(params, 'initiator', 64)).toEqual({ commands: 64, control: 6 });
    expect(sendCreditLimits(params, 'target', 64)).toEqual({ commands: 0, control: 4 });
    const declared = { ...params, maxOutstandingUnexpectedPdus: { initiator: 2, target: 10 } };
    expect(sendCreditLimits(declared, 'initiator', 64)).toEqual({ commands: 5, control: 5 });
    expect(sendCreditLimits(declared, 'target', 64)).toEqual({ commands: 0, control: 2 });
    const minimal = { ...params, maxOutstandingUnexpectedPdus: { initiator: 0, target: 2 } };
    expect(sendCreditLimits(minimal, 'initiator', 64)).toEqual({ commands: 1, control: 1 });
  });

  it('rings hold a receive for every PDU the peer may have in flight', () => {
    expect(receiveRingDepth(params, 'initiator', 64, 10_000)).toBe(64 + 6 + 4 + 2);
    expect(receiveRingDepth(params, 'target', 64, 10_000)).toBe(64 + 6 + 4 + 2);
    const unsolicited = { ...params, initialR2T: false, firstBurstLength: 65_536 };
    expect(dataOutsPerCommand(unsolicited)).toBe(16);
    expect(receiveRingDepth(unsolicited, 'target', 64, 100_000)).toBe(64 * 17 + 6 + 4 + 2);
    expect(receiveRingDepth(unsolicited, 'target', 64, 500)).toBe(500);
  });

  it('the receive limit defaults to 8 KiB and takes any integer in 512..256 KiB as given', () => {
    expect(DEFAULT_MAX_RECEIVE_DATA_SEGMENT_LENGTH).toBe(8192);
    expect(RECEIVE_DATA_SEGMENT_LENGTH_CAP).toBe(262_144);
    expect(checkMaxReceiveDataSegmentLength(undefined)).toBe(8192);
    fc.assert(
      fc.property(fc.integer({ min: 512, max: RECEIVE_DATA_SEGMENT_LENGTH_CAP }), (value) => {
        expect(checkMaxReceiveDataSegmentLength(value)).toBe(value);
      }),
    );
  });

  it('a receive limit outside 512..256 KiB is refused with ERR_ISER_CONFIG naming the cap, never clamped', () => {
    const illegal = fc.oneof(
      fc.integer({ min: RECEIVE_DATA_SEGMENT_LENGTH_CAP + 1, max: 2 ** 40 }),
      fc.constant(16 * 1024 * 1024),
      fc.integer({ min: -(2 ** 31), max: 511 }),
      fc.double({ min: 512, max: RECEIVE_DATA_SEGMENT_LENGTH_CAP, noInteger: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY),
    );
    fc.assert(
      fc.property(illegal, (value) => {
        let error: unknown;
        try {
          checkMaxReceiveDataSegmentLength(value);
        } catch (err) {
          error = err;
        }
        expect(isIserError(error, 'ERR_ISER_CONFIG')).toBe(true);
        expect((error as Error).message).toContain('262144');
      }),
    );
  });
});
