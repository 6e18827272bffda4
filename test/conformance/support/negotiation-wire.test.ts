/**
 * wireNegotiation works the result of each key out of the login text alone. An offer that decides its own result
 * (No under AND, Yes under OR) may go unanswered (RFC 7143 §6.2.2): LIO leaves InitialR2T=Yes unanswered, and
 * that must neither count as an unanswered offer nor fall back to the key's default.
 */
import { describe, expect, it } from 'vitest';
import type { RecordedPdu } from '../../../conformance/record/exchange.js';
import { compareWithSession, wireNegotiation } from '../../../conformance/support/negotiation-wire.js';
import type { Pdu } from '../../../protocol/pdu/pdu.js';
import { encodeText, type TextPair } from '../../../protocol/text/codec.js';
import { defaultNegotiatedParams } from '../../support/datamover-pair.js';

const isid = { type: 2, a: 0, b: 1, c: 2, d: 3 } as const;

function request(pairs: readonly TextPair[]): Pdu {
  return {
    kind: 'login-request',
    transit: true,
    continue: false,
    currentStage: 1,
    nextStage: 3,
    versionMax: 0,
    versionMin: 0,
    isid,
    tsih: 0,
    itt: 0,
    cid: 0,
    cmdSN: 0,
    expStatSN: 0,
    data: [encodeText(pairs)],
  };
}

function response(pairs: readonly TextPair[]): Pdu {
  return {
    kind: 'login-response',
    transit: true,
    continue: false,
    currentStage: 1,
    nextStage: 3,
    versionMax: 0,
    versionActive: 0,
    isid,
    tsih: 1,
    itt: 0,
    statSN: 0,
    expCmdSN: 0,
    maxCmdSN: 0,
    statusClass: 0,
    statusDetail: 0,
    data: [encodeText(pairs)],
  };
}

function login(offers: readonly TextPair[], answers: readonly TextPair[]): RecordedPdu[] {
  return [request(offers), response(answers)].map((pdu, seq) => ({
    seq,
    timeMs: seq,
    connection: 1,
    direction: pdu.kind === 'login-request' ? 'out' : 'in',
    layer: 'core',
    pdu,
  }));
}

describe('wireNegotiation', () => {
  it('takes an unanswered No under AND or Yes under OR as the result, and not as unanswered', () => {
    const wire = wireNegotiation(
      login(
        [
          { key: 'InitialR2T', value: 'Yes' },
          { key: 'ImmediateData', value: 'No' },
          { key: 'DataPDUInOrder', value: 'Yes' },
        ],
        [{ key: 'DataPDUInOrder', value: 'Yes' }],
      ),
    );
    expect(wire.unanswered).toEqual([]);
    expect(wire.results.get('InitialR2T')).toEqual({ value: 'Yes', how: 'implied', by: 'initiator' });
    expect(wire.results.get('ImmediateData')).toEqual({ value: 'No', how: 'implied', by: 'initiator' });
    expect(wire.results.get('DataPDUInOrder')?.how).toBe('answered');
  });

  it('still reports an offer that needed an answer and got none', () => {
    const wire = wireNegotiation(
      login(
        [
          { key: 'InitialR2T', value: 'No' },
          { key: 'ImmediateData', value: 'Yes' },
          { key: 'MaxBurstLength', value: '65536' },
        ],
        [],
      ),
    );
    expect(wire.unanswered.map((u) => u.key)).toEqual(['InitialR2T', 'ImmediateData', 'MaxBurstLength']);
  });

  it('holds the session to an implied result instead of the default', () => {
    const wire = wireNegotiation(login([{ key: 'ImmediateData', value: 'No' }], []));
    const params = defaultNegotiatedParams();
    expect(compareWithSession(wire, { ...params, immediateData: true }, false)?.message).toMatch(
      /ImmediateData=true but the wire decided by an unanswered offer of No/,
    );
    expect(compareWithSession(wire, { ...params, immediateData: false }, false)).toBeUndefined();
  });
});
